"""Read a recording back: topics, counts, metadata and decoded messages — also from a file a crash
cut short.

A finished file (footer and closing magic present) is read through its summary and indexes. A
file without them (the recorder was killed) is read up to its last complete record: the top-level
records are walked by their length prefixes, and whatever follows the last whole one (a half-
written chunk) is ignored. Messages are decoded with mcap_ros2 from the schemas in the file
itself, so this reads any rosbag2-profile MCAP, not only ours. No ROS needed.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcap.exceptions import EndOfFile, McapError
from mcap.reader import make_reader
from mcap.records import Channel, Message, Metadata, Schema
from mcap.stream_reader import StreamReader
from mcap.writer import Writer
from mcap_ros2.decoder import DecoderFactory

MAGIC = b"\x89MCAP0\r\n"


class _Prefix:
    """A read-only view of the first `limit` bytes of a file (the part a crash left whole)."""

    def __init__(self, f, limit: int):
        self._f, self._left = f, limit

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data


def _readable_prefix(f) -> tuple[int, bool]:
    """(bytes of whole records from the start, whether the file is finished)."""
    size = os.fstat(f.fileno()).st_size
    f.seek(0)
    if f.read(8) != MAGIC:
        raise McapError(f"{getattr(f, 'name', 'file')}: not an MCAP file (bad magic)")
    if size >= 16:
        f.seek(size - 8)
        if f.read(8) == MAGIC:
            return size, True
    pos = 8
    while pos + 9 <= size:
        f.seek(pos)
        opcode, length = struct.unpack("<BQ", f.read(9))
        if opcode == 0 or pos + 9 + length > size:  # zeros (a torn page) or a record the crash cut
            break
        pos += 9 + length
    return pos, False


@dataclass
class TopicInfo:
    topic: str
    type: str
    count: int
    encoding: str = "cdr"


@dataclass
class Recording:
    """What a recording holds. `messages()` decodes lazily; nothing is loaded up front."""

    path: Path
    complete: bool
    readable_bytes: int
    topics: dict[str, TopicInfo] = field(default_factory=dict)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    start_ns: int = 0
    end_ns: int = 0

    @property
    def duration(self) -> float:
        return (self.end_ns - self.start_ns) * 1e-9

    def count(self, topic: str) -> int:
        info = self.topics.get(_abs(topic))
        return info.count if info else 0

    def raw_messages(self, topics: Iterable[str] | None = None) -> Iterator[tuple[Schema | None, Channel, Message]]:
        wanted = None if topics is None else {_abs(t) for t in topics}
        with open(self.path, "rb") as f:
            if self.complete:
                yield from make_reader(f).iter_messages(topics=None if wanted is None else sorted(wanted), log_time_order=True)
                return
            yield from _stream_messages(f, self.readable_bytes, wanted)

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[tuple[str, int, Any]]:
        """(topic, log time ns, decoded message) in log-time order (file order if unfinished)."""
        factory = DecoderFactory()
        decoders: dict[int, Any] = {}
        for schema, channel, message in self.raw_messages(topics):
            dec = decoders.get(channel.id)
            if dec is None:
                dec = decoders[channel.id] = factory.decoder_for(channel.message_encoding, schema) or _undecodable(channel)
            yield channel.topic, message.log_time, dec(message.data)

    def read(self, topic: str) -> list[tuple[float, Any]]:
        """One topic as (log time in s, message), sorted by time."""
        return sorted(((t * 1e-9, m) for _, t, m in self.messages([topic])), key=lambda x: x[0])


def _abs(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def _undecodable(channel: Channel):
    def fail(_data: bytes):
        raise McapError(f"{channel.topic}: no ros2msg schema in the file; cannot decode")

    return fail


def _stream_messages(f, limit: int, wanted: set[str] | None) -> Iterator[tuple[Schema | None, Channel, Message]]:
    f.seek(0)
    schemas: dict[int, Schema] = {}
    channels: dict[int, Channel] = {}
    try:
        for record in StreamReader(_Prefix(f, limit), skip_magic=False, validate_crcs=True).records:
            if isinstance(record, Schema):
                schemas[record.id] = record
            elif isinstance(record, Channel):
                channels[record.id] = record
            elif isinstance(record, Message):
                channel = channels.get(record.channel_id)
                if channel is not None and (wanted is None or channel.topic in wanted):
                    yield schemas.get(channel.schema_id), channel, record
    except EndOfFile:
        return  # the end of the whole records


def open_recording(path: str | Path) -> Recording:
    """Inspect a recording: finished or not, its topics with types and counts, its metadata."""
    path = Path(path)
    with open(path, "rb") as f:
        limit, complete = _readable_prefix(f)
        rec = Recording(path, complete, limit)
        f.seek(0)
        summary = make_reader(f).get_summary() if complete else None
        if summary is not None and summary.statistics is not None:
            counts = summary.statistics.channel_message_counts
            for channel in summary.channels.values():
                schema = summary.schemas.get(channel.schema_id)
                rec.topics[channel.topic] = TopicInfo(
                    channel.topic, schema.name if schema else "", counts.get(channel.id, 0), channel.message_encoding
                )
            rec.start_ns, rec.end_ns = summary.statistics.message_start_time, summary.statistics.message_end_time
            f.seek(0)
            for record in make_reader(f).iter_metadata():
                rec.metadata[record.name] = dict(record.metadata)
            return rec
        # unfinished (or summary-less): one pass over the whole records
        f.seek(0)
        counts: Counter[int] = Counter()
        channels: dict[int, Channel] = {}
        schemas: dict[int, Schema] = {}
        first, last = None, None
        try:
            for record in StreamReader(_Prefix(f, limit), validate_crcs=True).records:
                if isinstance(record, Message):
                    counts[record.channel_id] += 1
                    first = record.log_time if first is None else min(first, record.log_time)
                    last = record.log_time if last is None else max(last, record.log_time)
                elif isinstance(record, Channel):
                    channels[record.id] = record
                elif isinstance(record, Schema):
                    schemas[record.id] = record
                elif isinstance(record, Metadata):
                    rec.metadata[record.name] = dict(record.metadata)
        except EndOfFile:
            pass
        for cid, channel in channels.items():
            schema = schemas.get(channel.schema_id)
            rec.topics[channel.topic] = TopicInfo(channel.topic, schema.name if schema else "", counts.get(cid, 0), channel.message_encoding)
        rec.start_ns, rec.end_ns = first or 0, last or 0
        return rec


def recover(src: str | Path, dst: str | Path) -> Recording:
    """Rewrite the whole records of an unfinished file into a finished one (summary, indexes,
    footer), so tools that need an index (rosbags, `ros2 bag play`) open it. Schemas, channels,
    metadata and message bytes are copied as they are."""
    rec = open_recording(src)
    with open(dst, "wb") as out:
        writer = Writer(out)
        writer.start(profile="ros2", library="lucid_ros recover")
        schema_ids: dict[int, int] = {}
        channel_ids: dict[int, int] = {}
        for name, values in rec.metadata.items():
            writer.add_metadata(name, values)
        for schema, channel, message in rec.raw_messages():
            if channel.id not in channel_ids:
                sid = 0
                if schema is not None:
                    if schema.id not in schema_ids:
                        schema_ids[schema.id] = writer.register_schema(schema.name, schema.encoding, schema.data)
                    sid = schema_ids[schema.id]
                channel_ids[channel.id] = writer.register_channel(channel.topic, channel.message_encoding, sid, dict(channel.metadata))
            writer.add_message(channel_ids[channel.id], message.log_time, message.data, message.publish_time, message.sequence)
        writer.finish()
    return open_recording(dst)
