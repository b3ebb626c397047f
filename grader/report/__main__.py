from grader.report.build import main

main()
