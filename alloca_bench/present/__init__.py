"""Presentation: one _format for sizes, numbers and tables; the run tables, plots and the report.
Never imports the compiled module or measure/: a saved result is shown on any machine."""
