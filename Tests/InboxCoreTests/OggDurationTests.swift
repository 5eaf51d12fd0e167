import Foundation
import InboxCore
import Testing

/// Ogg files written page by page here, with their own CRC (computed bit by bit, not with
/// the table the code under test uses), as WhatsApp's voice notes are laid out: an Opus
/// head page, a tags page, then audio pages whose granule positions count 48 kHz samples.
@Suite struct OggDurationTests {
    /// Ogg's CRC-32 computed one bit at a time: polynomial 0x04C11DB7, not reflected,
    /// initial value 0, no final xor.
    static func bitwiseCRC(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0
        for byte in bytes {
            crc ^= UInt32(byte) << 24
            for _ in 0..<8 { crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1 }
        }
        return crc
    }

    /// One page: header, lacing values for `packets`, the packets; CRC filled in.
    static func page(_ packets: [[UInt8]], granule: Int64, serial: UInt32 = 0x5741_4258, sequence: UInt32,
                     flags: UInt8 = 0, corruptCRC: Bool = false) -> [UInt8] {
        var lacing: [UInt8] = []
        for packet in packets {
            var left = packet.count
            while left >= 255 { lacing.append(255); left -= 255 }
            lacing.append(UInt8(left))
        }
        var bytes = Array("OggS".utf8) + [0, flags]
        bytes += withUnsafeBytes(of: UInt64(bitPattern: granule).littleEndian, Array.init)
        bytes += withUnsafeBytes(of: serial.littleEndian, Array.init)
        bytes += withUnsafeBytes(of: sequence.littleEndian, Array.init)
        bytes += [0, 0, 0, 0, UInt8(lacing.count)] + lacing + packets.flatMap { $0 }
        var crc = bitwiseCRC(bytes)
        if corruptCRC { crc ^= 1 }
        bytes.replaceSubrange(22..<26, with: withUnsafeBytes(of: crc.littleEndian, Array.init))
        return bytes
    }

    static func opusHead(preSkip: UInt16) -> [UInt8] {
        Array("OpusHead".utf8) + [1, 1] + withUnsafeBytes(of: preSkip.littleEndian, Array.init)
            + withUnsafeBytes(of: UInt32(16_000).littleEndian, Array.init) + [0, 0, 0]
    }

    static let opusTags = Array("OpusTags".utf8) + [5, 0, 0, 0] + Array("wabox".utf8) + [0, 0, 0, 0]

    /// A voice note of `seconds` (plus the pre-skip) in `audioPages` pages of fake packets.
    static func voiceNote(seconds: Double, preSkip: UInt16 = 312, audioPages: Int = 3) -> [UInt8] {
        var file = page([opusHead(preSkip: preSkip)], granule: 0, sequence: 0, flags: 0x02)
        file += page([opusTags], granule: 0, sequence: 1)
        let total = Int64(seconds * 48_000) + Int64(preSkip)
        for index in 1...audioPages {
            let granule = total * Int64(index) / Int64(audioPages)
            // 20 ms Opus packets of made-up bytes, a few hundred of them per page.
            let packets = (0..<40).map { number in (0..<60).map { UInt8(truncatingIfNeeded: $0 * 7 + number + index) } }
            file += page(packets, granule: granule, sequence: UInt32(1 + index), flags: index == audioPages ? 0x04 : 0)
        }
        return file
    }

    @Test func theBitwiseCRCIsOggs() {
        // CRC-32/CKSUM checks "123456789" as 0x765E7680; Ogg's variant has no final xor.
        #expect(Self.bitwiseCRC(Array("123456789".utf8)) == 0x765E_7680 ^ 0xFFFF_FFFF)
        let page = Self.page([Self.opusTags], granule: 0, sequence: 1)
        #expect(page.withUnsafeBytes { OggDuration.crc($0) } == UInt32(littleEndian: page[22..<26].withUnsafeBytes {
            $0.loadUnaligned(as: UInt32.self)
        }))
    }

    @Test func aVoiceNoteLastsWhatItsLastGranuleSaysLessThePreSkip() {
        #expect(OggDuration.milliseconds(of: Data(Self.voiceNote(seconds: 7))) == 7_000)
        #expect(OggDuration.milliseconds(of: Data(Self.voiceNote(seconds: 83.5, preSkip: 3840, audioPages: 6))) == 83_500)
        // A note shorter than its pre-skip plays for no time, not a negative one.
        var short = Self.page([Self.opusHead(preSkip: 312)], granule: 0, sequence: 0, flags: 0x02)
        short += Self.page([[1, 2, 3]], granule: 100, sequence: 1, flags: 0x04)
        #expect(OggDuration.milliseconds(of: Data(short)) == 0)
    }

    @Test func aLastPageWithoutAPositionOrWithABadCRCIsPassedOver() {
        var file = Self.voiceNote(seconds: 4)
        // A continued packet's page: no packet ends there (granule -1).
        file += Self.page([Array(repeating: 9, count: 255)], granule: -1, sequence: 9)
        #expect(OggDuration.milliseconds(of: Data(file)) == 4_000)
        // A page that claims 60 s but whose CRC is wrong is not believed.
        let claimed = Int64(60 * 48_000 + 312)
        let broken = file + Self.page([[1, 2, 3]], granule: claimed, sequence: 10, corruptCRC: true)
        #expect(OggDuration.milliseconds(of: Data(broken)) == 4_000)
        // Nor one of another logical stream.
        let other = file + Self.page([[1, 2, 3]], granule: claimed, serial: 7, sequence: 0)
        #expect(OggDuration.milliseconds(of: Data(other)) == 4_000)
        // Garbage after the last page, and `OggS` inside the audio bytes, change nothing.
        let trailing = file + Array("OggS".utf8) + [0, 4, 0xff, 0xff] + Array(repeating: 0x4F, count: 40)
        #expect(OggDuration.milliseconds(of: Data(trailing)) == 4_000)
    }

    @Test func vorbisUsesTheRateOfItsHeader() {
        let identification = [0x01] + Array("vorbis".utf8) + [0, 0, 0, 0, 2]
            + withUnsafeBytes(of: UInt32(44_100).littleEndian, Array.init) + Array(repeating: 0, count: 14)
        var file = Self.page([identification], granule: 0, sequence: 0, flags: 0x02)
        file += Self.page([[1, 2, 3, 4]], granule: 44_100 * 3 / 2, sequence: 1, flags: 0x04)
        #expect(OggDuration.milliseconds(of: Data(file)) == 1_500)
    }

    @Test func whatIsNotOggOpusHasNoDuration() {
        #expect(OggDuration.milliseconds(of: Data()) == nil)
        #expect(OggDuration.milliseconds(of: Data("ID3\u{3}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0} an mp3".utf8)) == nil)
        #expect(OggDuration.milliseconds(of: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 64))) == nil)
        let note = Self.voiceNote(seconds: 5)
        // Cut inside the head page; a head page alone; a first page without the start flag.
        #expect(OggDuration.milliseconds(of: Data(note.prefix(30))) == nil)
        #expect(OggDuration.milliseconds(of: Data(Self.page([Self.opusHead(preSkip: 312)], granule: 0, sequence: 0,
                                                             flags: 0x02))) == nil)
        let unflagged = Self.page([Self.opusHead(preSkip: 312)], granule: 0, sequence: 0) + note.dropFirst(47)
        #expect(OggDuration.milliseconds(of: Data(unflagged)) == nil)
        // Another codec in Ogg (Speex) is not guessed at.
        let speex = Self.page([Array("Speex   ".utf8) + Array(repeating: 0, count: 72)], granule: 0, sequence: 0, flags: 0x02)
            + Self.page([[1]], granule: 16_000, sequence: 1)
        #expect(OggDuration.milliseconds(of: Data(speex)) == nil)
    }
}
