"""Presentation: every word and picture: one _format for sizes, numbers and tables; the result
tables, the warnings, the crossover's sentences (answers), the summary, the comparison's text,
the machine's metadata, the plots and the report.  Reads results and answers through their data
classes (ResultData, CrossoverData...), so that the public classes' conveniences can import it.
Computes no statistic (results/ and analysis/ do); never imports the compiled module or
measuring/: a saved result is shown on any machine."""
