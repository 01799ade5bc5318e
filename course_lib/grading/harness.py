"""Kernel start-up file of a sandboxed grading run (``IPKernelApp.exec_files``): runs before any
student cell, so it can keep what student code could otherwise replace.

It reads the run plan (test code and one random token per test cell, written by the grader), deletes
it, and installs ``__grader__.test(grade_id)``: the only statement a test cell sends to the kernel.
That call

1. puts back what a submission may have replaced: builtins, ``sys`` hooks (display, except, trace,
   profile), the instructor's modules and their attributes, and the names the instructor's cells
   import or bind to literal values;
2. compiles the test itself (no IPython input or AST transformer sees it) as the body of a function
   whose helpers are its own arguments, so no global a student rebinds can replace them;
3. writes the test's token to the verdict file only if the body returned normally.

The grader outside the sandbox scores a test cell only when its token is in the verdict file. The
test code was rewritten by :mod:`course_lib.grading.testcode` so that every comparison, arithmetic,
truth value and NumPy call in it first checks that its operands are plain data (see :func:`_plain`).
Standalone on purpose: imports nothing from course_lib before the plan is read.
"""


def _install():  # over 60 lines on purpose: one closure, deleted afterwards, so only ``__grader__`` stays visible
    import builtins
    import importlib
    import json
    import operator
    import os
    import sys
    import threading
    import types

    import numpy

    with open(os.environ["GRADER_PLAN"]) as f:
        plan = json.load(f)
    os.unlink(os.environ["GRADER_PLAN"])
    verdicts = open(plan["verdicts"], "a", buffering=1)
    tests = plan["tests"]  # {grade_id: {"code": str, "token": str}}
    shell = get_ipython()  # noqa: F821  (IPython provides it to exec_files)
    for name in plan["modules"]:
        try:
            importlib.import_module(name)
        except Exception:  # a module the lab imports later may fail here; the lab's own cell reports it
            pass
    roots = {name.split(".")[0] for name in plan["modules"]} | {"numpy"}
    saved_modules = {n: (m, dict(vars(m))) for n, m in list(sys.modules.items())
                     if m is not None and n.split(".")[0] in roots}
    saved_builtins = dict(vars(builtins))
    saved_sys = {k: getattr(sys, k) for k in ("displayhook", "excepthook", "breakpointhook", "stdout", "stderr")}
    # harness functions look globals up in the student's namespace first: keep every builtin they use
    _compile, _exec, _locals, _type, _isinstance, _len = compile, exec, locals, type, isinstance, len
    _bool, _list, _tuple, _vars, _setattr, _getattr, _enumerate, _all = bool, list, tuple, vars, setattr, getattr, enumerate, all
    _TypeError, _iterables = TypeError, (all, any, sum, min, max, sorted)
    ops = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
           "is": operator.is_, "is not": operator.is_not,
           "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "//": operator.floordiv,
           "%": operator.mod, "**": operator.pow, "@": operator.matmul, "&": operator.and_, "|": operator.or_,
           "^": operator.xor, "<<": operator.lshift, ">>": operator.rshift,
           "neg": operator.neg, "pos": operator.pos, "invert": operator.invert}
    plain_types = {bool, int, float, complex, str, bytes, type(None), slice, range, type(Ellipsis)}
    containers = {list, tuple, set, frozenset, dict}
    scalar_types = set(numpy.sctypeDict.values()) | {numpy.bool_}
    dtype_types = {_type(numpy.dtype(c)) for c in numpy.typecodes["All"]}
    heap_type = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes made by a `class` statement (a student's)

    def _plain(x, depth=0):
        """Raise TypeError unless ``x`` is plain data whose comparisons a submission cannot redefine."""
        t = _type(x)
        if t in plain_types or t in scalar_types or t in dtype_types or depth > 20:
            return x
        if t in containers:
            for item in (_list(x.items()) if t is dict else x):
                _plain(item, depth + 1)
            return x
        if t is numpy.ndarray:
            if x.dtype.kind == "O":
                for item in x.flat:
                    _plain(item, depth + 1)
            return x
        if t is type and not x.__flags__ & heap_type:  # e.g. np.float32 in `x.dtype == np.float32`
            return x
        if not t.__flags__ & heap_type and t.__module__ not in ("builtins", "__main__"):
            return x  # a C type of a library (torch.Size, ...): its comparisons are the library's
        raise _TypeError(f"the test got a {t.__module__}.{t.__qualname__} where it expects plain data "
                        "(numbers, strings, lists, tuples, dicts, NumPy arrays): return plain values")

    def cmp(names, *operands):
        """``a OP b [OP c ...]`` as Python evaluates a chain, on plain operands only."""
        result = True
        for i, name in _enumerate(names):
            a, b = operands[i], operands[i + 1]
            if name in ("is", "is not"):
                result = ops[name](a, b)
            else:
                result = _plain(ops[name](_plain(a), _plain(b)))
            if i < _len(names) - 1 and not _bool(result):
                return result
        return result

    def binop(name, a, b):
        return ops[name](_plain(a), _plain(b))

    def unary(name, a):
        return ops[name](_plain(a))

    def truth(x):
        return _bool(_plain(x))

    def any_is(x, options):
        for option in options:
            if option is x:
                return True
        return False

    def call(func, *args, **kwargs):
        if any_is(func, _iterables) and _len(args) == 1 and \
                not _isinstance(args[0], numpy.ndarray):
            args = (_tuple(args[0]),)  # materialise a generator so each item is checked
        for value in (*args, *kwargs.values()):
            _plain(value)
        return func(*args, **kwargs)

    def imported(module, attr):
        if attr:
            try:
                return importlib.import_module(f"{module}.{attr}")
            except ImportError:
                return _getattr(importlib.import_module(module), attr)
        return importlib.import_module(module)

    def restore():
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        for key, value in saved_sys.items():
            _setattr(sys, key, value)
        _vars(builtins).update(saved_builtins)
        for name, (module, attrs) in saved_modules.items():
            sys.modules[name] = module
            _vars(module).update(attrs)
        for name, (module, attr) in plan["imports"].items():
            shell.user_ns[name] = imported(module, attr)
        for name, value in plan["constants"].items():
            shell.user_ns[name] = json.loads(value)

    def test(grade_id):
        """Run the hidden and visible tests of cell ``grade_id``; record its token if they pass."""
        spec = tests[grade_id]
        restore()
        code = _compile(spec["code"], f"<test {grade_id}>", "exec", dont_inherit=True)
        scope = {}
        _exec(code, shell.user_ns, scope)  # defines the function `__grader_test__` in `scope`
        scope["__grader_test__"](cmp, binop, unary, truth, call, _locals, shell.user_ns)
        restore()
        verdicts.write(f"{grade_id} {spec['token']}\n")

    builtins.__grader__ = types.SimpleNamespace(test=test)


_install()
del _install
