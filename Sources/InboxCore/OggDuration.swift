import Foundation

/// How long an Ogg audio file plays, read from its pages: WhatsApp voice notes are Opus in
/// Ogg. No decoding: the granule position of the stream's last page counts the samples
/// played (48 kHz for Opus, the header's rate for Vorbis).
///
/// - Important: The bytes come from a customer. Every page used is checked against its
///   CRC, so a stray `OggS` inside the audio data is never taken for a page; anything
///   that does not parse gives nil (the duration is then not shown), never a trap.
public enum OggDuration {
    /// The playing time of an Ogg Opus or Ogg Vorbis file in milliseconds, or nil when the
    /// bytes are not such a file (or are cut short before any page with a position).
    public static func milliseconds(of bytes: Data) -> Int64? {
        bytes.withUnsafeBytes { raw in
            milliseconds(of: UnsafeRawBufferPointer(raw))
        }
    }

    static func milliseconds(of bytes: UnsafeRawBufferPointer) -> Int64? {
        guard let first = page(at: 0, in: bytes), first.isBeginning else { return nil }
        let packet = UnsafeRawBufferPointer(rebasing: bytes[first.bodyStart..<first.end])
        let rate: Int64, preSkip: Int64
        if packet.starts(with: Array("OpusHead".utf8)), packet.count >= 19 {
            rate = 48_000  // Opus granules always count 48 kHz samples, whatever the input rate.
            preSkip = Int64(littleEndian16(packet, at: 10))
        } else if packet.starts(with: [0x01] + Array("vorbis".utf8)), packet.count >= 16 {
            rate = Int64(littleEndian32(packet, at: 12))
            preSkip = 0
        } else {
            return nil
        }
        guard rate > 0 else { return nil }
        // The last page of the stream with a position, found from the end.
        var offset = bytes.count - minimumPageSize
        while offset >= first.end {
            if bytes[offset] == 0x4F, let candidate = page(at: offset, in: bytes), candidate.serial == first.serial,
               candidate.granule >= 0 {
                let samples = max(0, candidate.granule - preSkip)
                return samples.multipliedReportingOverflow(by: 1000).overflow ? nil : samples * 1000 / rate
            }
            offset -= 1
        }
        return nil
    }

    // MARK: - Pages

    struct Page {
        var isBeginning: Bool
        /// -1: no packet ends on this page.
        var granule: Int64
        var serial: UInt32
        var bodyStart: Int
        var end: Int
    }

    /// The 27-byte header with no segments.
    static let minimumPageSize = 27

    /// The page starting at `offset`, when a whole one with a correct CRC is there.
    static func page(at offset: Int, in bytes: UnsafeRawBufferPointer) -> Page? {
        guard offset >= 0, bytes.count - offset >= minimumPageSize,
              bytes[offset] == 0x4F, bytes[offset + 1] == 0x67, bytes[offset + 2] == 0x67, bytes[offset + 3] == 0x53,
              bytes[offset + 4] == 0 else { return nil }
        let segments = Int(bytes[offset + 26])
        let bodyStart = offset + minimumPageSize + segments
        guard bodyStart <= bytes.count else { return nil }
        var length = 0
        for index in 0..<segments { length += Int(bytes[offset + minimumPageSize + index]) }
        let end = bodyStart + length
        guard end <= bytes.count else { return nil }
        let stored = littleEndian32(bytes, at: offset + 22)
        guard crc(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), skippingChecksumAt: 22) == stored else { return nil }
        var granule: UInt64 = 0
        for index in (0..<8).reversed() { granule = granule << 8 | UInt64(bytes[offset + 6 + index]) }
        return Page(isBeginning: bytes[offset + 5] & 0x02 != 0, granule: Int64(bitPattern: granule),
                    serial: littleEndian32(bytes, at: offset + 14), bodyStart: bodyStart, end: end)
    }

    /// Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0) of a page, its
    /// checksum field counted as zeros.
    public static func crc(_ page: UnsafeRawBufferPointer, skippingChecksumAt checksum: Int = 22) -> UInt32 {
        var crc: UInt32 = 0
        for (index, byte) in page.enumerated() {
            let value = (checksum..<checksum + 4).contains(index) ? 0 : byte
            crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(value))]
        }
        return crc
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index) << 24
        for _ in 0..<8 { value = value & 0x8000_0000 != 0 ? (value << 1) ^ 0x04C1_1DB7 : value << 1 }
        return value
    }

    private static func littleEndian16(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    private static func littleEndian32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}
