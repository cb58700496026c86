"""Numbers from predictions and showers: classifier metrics, ROC curves and DeLong's test
(:mod:`~qvit_lib.analysis.metrics`), and the comparison of generated with simulated showers
(:mod:`~qvit_lib.analysis.shower_comparison`)."""
