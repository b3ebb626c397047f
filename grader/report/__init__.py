"""The class report: what grading recorded, turned into what an instructor teaches from.

    python -m grader.report                  # every lesson (make report)
    python -m grader.report --lesson 02_mdps # one lesson (make report LESSON=02_mdps)

It reads only what grading wrote (the gradebook, grader/work/outcomes.csv's
source, the autograded and the submitted notebooks), so serial, parallel,
Celery and hub runs give the same report, and writes one self-contained HTML
page (plots inside it) to grader/work/report/index.html. It never changes a
grade. Students appear by their ids only.

Modules, in the order the report is built:
    records       what grading recorded, per lesson and submission (ClassRecord)
    time_on_task  minutes per exercise from JupyterLab's recorded cell timing
    similarity    pairs of submissions whose answer cells are suspiciously alike
    mistakes      failing checks grouped, and matched to the mistake tables' rows
    page          the plots and the HTML page
"""
