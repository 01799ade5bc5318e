"""nbgrader settings of the course root ``grading/`` (run nbgrader from this folder, or use
``python -m course_lib.grading``, which does). See grading/README.md."""
import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "edgeml-course"
# The course root is this folder wherever nbgrader or formgrader is started from; the gradebook
# is ROOT/gradebook.db (nbgrader's default), and ROOT/source/ is a copy of ../solutions/ made
# by `make labs` (course_lib.grading).
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.onnx", "*.tflite"]

# Lab solutions train and quantize models: allow 5 minutes per cell (nbgrader's default is 30 s).
# A cell that runs longer is interrupted, recorded as an error, and the next cells still run.
# `python -m course_lib.grading autograde` runs each submission in its own sandbox and reads the
# cell limit from here (--timeout overrides it); the whole notebook has its own limit (--wall-time).
c.Execute.timeout = 300
c.Execute.interrupt_on_timeout = True
# A busy machine can delay a cell's output by seconds after the cell finished; nbgrader's default
# (4 s, then fail the whole notebook) would drop a correct submission.
c.Execute.iopub_timeout = 60
c.Execute.raise_on_iopub_timeout = False

# A test cell a student deleted is put back and graded; an edited one is overwritten by the
# original (course_lib.grading.repair does both before grading, and says so in the report).
c.OverwriteCells.add_missing_cells = True

# Late work: the grader applies nbgrader's late-submission plugin after scoring each submission
# (timestamp.txt in the submission folder, due date in the gradebook). The default plugin gives
# no penalty; set a plugin class (a subclass of nbgrader.plugins.LateSubmissionPlugin) here.
c.AssignLatePenalties.plugin_class = "nbgrader.plugins.LateSubmissionPlugin"

# Student versions: solution regions become this stub, and hidden tests are removed.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Late work: nbgrader computes each submission's lateness from the due date (`make schedule`) and
# its timestamp.txt; this plugin turns it into a penalty with the policy of term.toml.
c.AssignLatePenalties.plugin_class = "course_lib.assessment.late.LatePenalty"
