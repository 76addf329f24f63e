"""The CRC Unitree puts at the end of every low-level packet (SDK1 UDP and SDK2 DDS alike).

Definition (hardware-and-models.md section 1): CRC-32, polynomial 0x04C11DB7, init 0xFFFFFFFF,
MSB first, no reflection, no final XOR, over little-endian u32 words; for each word, for each
bit 31..0: shift left (XOR poly if the old top bit was set), then XOR poly if the data bit is set.

That per-bit rule is the plain MSB-first CRC register update (shift, XOR poly when top bit XOR
data bit is 1), i.e. CRC-32/MPEG-2 over each word's bits from bit 31 down. `crc32_words` runs it
through zlib (C speed, about 2 us per packet) by feeding zlib's reflected engine the bit-reversed
words; `crc32_words_reference` is the literal bit loop, kept for the tests.
"""

from __future__ import annotations

import zlib

import numpy as np

POLY = 0x04C11DB7
_REV8 = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _rev32(x: int) -> int:
    return int(f"{x & 0xFFFFFFFF:032b}"[::-1], 2)


def crc32_words(data: bytes | bytearray | memoryview | np.ndarray, n_words: int | None = None) -> int:
    """CRC over the first n_words little-endian u32 words of `data` (default: all whole words)."""
    buf = np.frombuffer(bytes(data) if not isinstance(data, np.ndarray) else data.tobytes(), dtype=np.uint8)
    n = len(buf) // 4 if n_words is None else n_words
    if n * 4 > len(buf):
        raise ValueError(f"{n} words need {4 * n} bytes, got {len(buf)}")
    # Word bit 31 first = the word's most significant byte (last in memory) first, MSB first.
    # zlib consumes each byte LSB first, so reverse byte order within words and bits within bytes.
    stream = buf[: 4 * n].reshape(n, 4)[:, ::-1].tobytes().translate(_REV8)
    reflected = zlib.crc32(stream) ^ 0xFFFFFFFF  # zlib: init ~0, final XOR ~0; undo the final XOR
    return _rev32(reflected)


def crc32_words_reference(words: list[int]) -> int:
    """The algorithm exactly as the facts describe it, one bit at a time (slow; for tests)."""
    crc = 0xFFFFFFFF
    for w in words:
        for bit in range(31, -1, -1):
            top = crc & 0x80000000
            crc = (crc << 1) & 0xFFFFFFFF
            if top:
                crc ^= POLY
            if (w >> bit) & 1:
                crc ^= POLY
    return crc


def packet_crc(packet: bytes | bytearray | memoryview) -> int:
    """Unitree coverage: (len >> 2) - 1 words from byte 0, i.e. everything before the crc field."""
    return crc32_words(packet, (len(packet) >> 2) - 1)
