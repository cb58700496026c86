"""Foundations every layer uses, importing nothing else of qvit_lib: the errors a user can fix
(:mod:`~qvit_lib.core.errors`), quick mode and paths (:mod:`~qvit_lib.core.config`), every number
taken from the paper (:mod:`~qvit_lib.core.paper`), and the machine and versions behind a result
(:mod:`~qvit_lib.core.provenance`)."""
