"""What the reader sees: figures (:mod:`~qvit_lib.display.plots`) and the interactive circuit
explorer (:mod:`~qvit_lib.display.widgets`, whose front end is ``circuit_explorer.js``)."""
