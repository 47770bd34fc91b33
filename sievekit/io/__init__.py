"""Streaming shard I/O: JSON Lines (plain, gzip, zstd) and Parquet, read in batches and written atomically."""

from sievekit.io.options import ReadOptions, ShardStats
from sievekit.io.shards import Shard, iter_batches, iter_texts, open_writer, resolve_inputs
from sievekit.io.streams import atomic_path, check_output_codec, iter_decoded_chunks, open_output

__all__ = [
    "ReadOptions",
    "Shard",
    "ShardStats",
    "atomic_path",
    "check_output_codec",
    "iter_batches",
    "iter_decoded_chunks",
    "iter_texts",
    "open_output",
    "open_writer",
    "resolve_inputs",
]
