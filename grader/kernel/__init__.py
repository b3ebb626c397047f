"""What runs inside nbgrader's process while it autogrades or makes feedback.

nbgrader_config.py names these classes; nothing here imports the coordinator
(grader/pipeline.py and the modules it drives), only grader.course and
grader.limits, which both sides share.

    sandbox     the kernel manager: every kernel starts in a bubblewrap sandbox
    guard       GuardedExecute: runs the notebook, keeps the grade cells' checks untouched
    submission  CheckSubmittedCells: duplicated or foreign grade cells; copying a hand-in
    feedback    HideHiddenTests: hidden tests stay off the feedback pages
"""
