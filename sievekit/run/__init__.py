"""How a run goes, below the commands: its options (``options``), its fingerprint and bookkeeping
(``contract``), every path it writes (``layout``), the writer of kept records (``writeback``), and where
tasks run (``executor``)."""

from sievekit.run.options import RunOptions

__all__ = ["RunOptions"]
