"""Presentation: every word and picture: one _format for sizes, numbers and tables; the result
tables, the warnings, the answers (crossover sentences, summary), the comparison's text, the
machine's metadata, the plots and the report.  Computes no statistic (results/ and analysis/
do); never imports the compiled module or measuring/: a saved result is shown on any machine."""
