"""Test cells as the sandboxed kernel runs them (see :mod:`course_lib.grading.harness`).

:func:`compile_test` turns the full source of a test cell (visible and hidden parts) into the
definition of one function, ``__grader_test__``, whose parameters are the harness's checkers: a
submission can rebind any global name, but not a function's own arguments. Inside it

- every comparison except ``is``, every arithmetic and unary operator, every truth value (``assert``,
  ``if``, ``while``, ``and``/``or``/``not`` in a condition), every call of ``np.*`` and of the
  builtins in :data:`CHECKED_BUILTINS` first checks that its operands are plain data, so an object
  that compares equal to everything, or a NumPy override, scores nothing;
- its local names are copied to the notebook's namespace when it ends, also when an assert fails
  half-way (later cells may read what a test cell defined, as in a kernel).

:func:`instructor_names` lists what the instructor's own cells import or bind to literal values,
which the harness puts back before every test (a submission cannot rebind ``np`` or a constant).
"""
from __future__ import annotations

import ast
import json

# builtins through which a submission's object would decide a truth value or meet another operand
# (list(), tuple(), set() only copy: whatever they hold is checked where it is compared)
CHECKED_BUILTINS = {"abs", "all", "any", "len", "max", "min", "sum", "sorted", "round", "int", "float", "bool"}
NUMPY_NAMES = {"np", "numpy"}
PARAMS = ["__grader_cmp", "__grader_bin", "__grader_unary", "__grader_truth", "__grader_call",
          "__grader_locals", "__grader_ns"]
CMP_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
BIN_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**", ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
           ast.LShift: "<<", ast.RShift: ">>"}
UNARY_OPS = {ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert"}


def python_of(cell_source: str) -> str:
    """A cell's source as plain Python (IPython magics and ``!shell`` lines made calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _helper(name: str, *args: ast.expr, keywords=()) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=list(keywords))


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Checked(ast.NodeTransformer):
    """Route operators, truth values and library calls of a test through the harness's checkers."""

    def condition(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.BoolOp):
            return ast.BoolOp(node.op, [self.condition(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ast.UnaryOp(ast.Not(), self.condition(node.operand))
        return _helper("__grader_truth", self.visit(node))

    def visit_Compare(self, node):
        self.generic_visit(node)
        ops = ast.Tuple([ast.Constant(CMP_OPS[type(op)]) for op in node.ops], ast.Load())
        return _helper("__grader_cmp", ops, node.left, *node.comparators)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return _helper("__grader_bin", ast.Constant(BIN_OPS[type(node.op)]), node.left, node.right)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(ast.Not(), self.condition(node.operand))
        self.generic_visit(node)
        if isinstance(node.operand, ast.Constant):
            return node
        return _helper("__grader_unary", ast.Constant(UNARY_OPS[type(node.op)]), node.operand)

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Name) and func.id in CHECKED_BUILTINS) or \
                (isinstance(func, ast.Attribute) and _root_name(func) in NUMPY_NAMES):
            return _helper("__grader_call", func, *node.args, keywords=node.keywords)
        return node

    def visit_Assert(self, node):
        node.msg = self.visit(node.msg) if node.msg else None
        node.test = self.condition(node.test)
        return node

    def visit_If(self, node):
        node.body = [self.visit(n) for n in node.body]
        node.orelse = [self.visit(n) for n in node.orelse]
        node.test = self.condition(node.test)
        return node

    visit_While = visit_If

    def visit_IfExp(self, node):
        node.body, node.orelse = self.visit(node.body), self.visit(node.orelse)
        node.test = self.condition(node.test)
        return node

    def visit_comprehension(self, node):
        node.iter, node.target = self.visit(node.iter), self.visit(node.target)
        node.ifs = [self.condition(cond) for cond in node.ifs]
        return node


def _read_before_assigned(body: list[ast.stmt]) -> list[str]:
    """Names the cell reads before it assigns them (they come from the notebook's namespace)."""
    stored, early = set(), set()
    for stmt in body:
        names = [n for n in ast.walk(stmt) if isinstance(n, ast.Name)]
        early |= {n.id for n in names if isinstance(n.ctx, ast.Load) and n.id not in stored}
        stored |= {n.id for n in names if isinstance(n.ctx, ast.Store)}
    return sorted(early & stored)


def compile_test(source: str) -> str:
    """Source of ``def __grader_test__(<checkers>): try: <checked cell> finally: <export locals>``."""
    tree = ast.parse(python_of(source))
    body = [_Checked().visit(stmt) for stmt in tree.body]
    preload = [ast.parse(f"{n} = __grader_ns[{n!r}] if {n!r} in __grader_ns else None").body[0]
               for n in _read_before_assigned(tree.body)]
    # names the cell assigned reach the notebook even when an assert fails half-way, as in a kernel
    export = ast.parse("__grader_l = __grader_locals()\n"
                       "__grader_ns.update({k: v for k, v in __grader_l.items() if not k.startswith('__grader')})").body
    body = [ast.Try(body=preload + body, handlers=[], orelse=[], finalbody=export)]
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in PARAMS], kwonlyargs=[], kw_defaults=[],
                         defaults=[])
    func = ast.FunctionDef(name="__grader_test__", args=args, body=body, decorator_list=[], returns=None)
    module = ast.fix_missing_locations(ast.Module(body=[func], type_ignores=[]))
    return ast.unparse(module)


def instructor_names(sources: list[str]) -> tuple[dict[str, list], dict[str, str], list[str]]:
    """``(imports, constants, modules)`` of the instructor's cells: ``{name: [module, attr]}``,
    ``{name: JSON of a literal}`` and every module they import (the harness loads them first)."""
    imports, constants, modules = {}, {}, []
    for source in sources:
        try:
            tree = ast.parse(python_of(source))
        except SyntaxError:  # a cell of shell magics: nothing of ours to protect there
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    modules.append(alias.name)
                    if alias.asname:
                        imports[alias.asname] = [alias.name, None]
                    else:
                        root = alias.name.split(".")[0]
                        imports[root] = [root, None]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
                for alias in node.names:
                    if alias.name != "*":
                        imports[alias.asname or alias.name] = [node.module, alias.name]
                        modules.append(f"{node.module}.{alias.name}")  # a submodule, if it is one
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    value = ast.literal_eval(node.value)
                    if json.loads(json.dumps(value)) == value:
                        constants[node.targets[0].id] = json.dumps(value)
                except (ValueError, TypeError, SyntaxError):
                    pass
    return imports, constants, list(dict.fromkeys(modules))


def test_modules(sources: list[str]) -> list[str]:
    """Modules the test cells import (loaded, and restored, like the instructor's)."""
    return instructor_names(sources)[2]
