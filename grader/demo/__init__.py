"""Demos of a whole term, and the simulated students they (and the grading tests) hand in.

Of the rest of grader/, only the class report imports this folder: it shows
the kept class demo when the course has recorded no grading.

    students    a good, a partial, an untouched and one bad submission of each kind
    classroom   a scripted class on this machine (make class-demo)
    hub_term    a term on a real JupyterHub, driven through HTTP (make hub-demo)
"""
