import Foundation
import InboxCore

/// The files the demo's customers send, made here so that the demo needs no file of its
/// own: a photo of a damaged parcel (a real PNG), an invoice (a real one-page PDF) and a
/// voice note.
public enum DemoMedia {
    /// Wang Fang's photo: a cardboard box with a torn corner on a light table, 96×72.
    static let parcelPhoto = SimulatedFile(kind: .image, id: "880001", mimeType: "image/png",
                                           bytes: PNG.encode(width: 96, height: 72, pixel: parcelPixel),
                                           caption: "包裹外箱破损了，请看照片")

    /// Lucas's invoice.
    static let invoice = SimulatedFile(kind: .document, id: "880002", mimeType: "application/pdf",
                                       bytes: onePagePDF(text: "Nota fiscal 4471 - Total R$ 129,90"),
                                       caption: "Segue a nota fiscal", filename: "nota-fiscal-4471.pdf")

    /// Layla's voice note: a real Ogg Opus container of 9 seconds, so the screen shows its
    /// length, holding packets no decoder would play, as an agent on a server cannot.
    static let voiceNote = SimulatedFile(kind: .voice, id: "880003", mimeType: "audio/ogg; codecs=opus",
                                         bytes: oggOpus(seconds: 9))

    public static let all = [parcelPhoto, invoice, voiceNote]

    private static func parcelPixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let inBox = x >= 18 && x < 78 && y >= 16 && y < 62
        if !inBox { return (UInt8(225 - y / 3), UInt8(222 - y / 3), UInt8(215 - y / 3)) }
        // The torn corner, top right, shows the darker inside of the box.
        if x - 60 > y - 16, x > 60 { return (96, 66, 38) }
        // Packing tape across the middle.
        if y >= 35 && y < 41 { return (205, 180, 120) }
        let shade = UInt8(150 + (x + y) % 9)
        return (shade + 30, shade, UInt8(Int(shade) * 2 / 3))
    }

    /// Ogg pages as WhatsApp's voice notes have them: the Opus head and tags, then one page
    /// a second of 20 ms packets, each page's granule position counting 48 kHz samples.
    static func oggOpus(seconds: Int) -> Data {
        func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        let preSkip: UInt16 = 312
        var file = Data()
        func page(_ packets: [[UInt8]], granule: UInt64, sequence: UInt32, flags: UInt8) {
            let lacing = packets.flatMap { packet in Array(repeating: UInt8(255), count: packet.count / 255) + [UInt8(packet.count % 255)] }
            var bytes = Array("OggS".utf8) + [0, flags] + littleEndian(granule) + littleEndian(UInt32(0x4C41_594C))
                + littleEndian(sequence) + [0, 0, 0, 0, UInt8(lacing.count)] + lacing + packets.flatMap { $0 }
            let crc = bytes.withUnsafeBytes { OggDuration.crc($0) }
            bytes.replaceSubrange(22..<26, with: littleEndian(crc))
            file.append(contentsOf: bytes)
        }
        let vendor = Array("wabox demo".utf8)
        page([Array("OpusHead".utf8) + [1, 1] + littleEndian(preSkip) + littleEndian(UInt32(48_000)) + [0, 0, 0]],
             granule: 0, sequence: 0, flags: 0x02)
        page([Array("OpusTags".utf8) + littleEndian(UInt32(vendor.count)) + vendor + littleEndian(UInt32(0))],
             granule: 0, sequence: 1, flags: 0)
        for second in 1...seconds {
            let packets = (0..<50).map { number in [0xF8] + (0..<20).map { UInt8(truncatingIfNeeded: $0 * 31 + number + second) } }
            page(packets, granule: UInt64(second * 48_000) + UInt64(preSkip), sequence: UInt32(second + 1),
                 flags: second == seconds ? 0x04 : 0)
        }
        return file
    }

    private static func onePagePDF(text: String) -> Data {
        let stream = "BT /F1 18 Tf 72 720 Td (\(text)) Tj ET"
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length \(stream.utf8.count) >>\nstream\n\(stream)\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { pdf += String(format: "%010d 00000 n \n", offset) }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(pdf.utf8)
    }
}

/// A minimal PNG writer: 8-bit RGB, one IDAT of stored (uncompressed) deflate blocks.
/// Enough to make demo and test images any decoder reads; not meant for large images.
public enum PNG {
    public static func encode(width: Int, height: Int, pixel: (Int, Int) -> (UInt8, UInt8, UInt8)) -> Data {
        var raw: [UInt8] = []
        raw.reserveCapacity((width * 3 + 1) * height)
        for y in 0..<height {
            raw.append(0)  // filter: none
            for x in 0..<width {
                let (r, g, b) = pixel(x, y)
                raw += [r, g, b]
            }
        }
        var png = Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        var header: [UInt8] = []
        header += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, RGB, deflate, no filter, no interlace
        png += chunk("IHDR", header)
        png += chunk("IDAT", zlibStored(raw))
        png += chunk("IEND", [])
        return png
    }

    private static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65_535, bytes.count - offset)
            let last: UInt8 = offset + length >= bytes.count ? 1 : 0
            out.append(last)
            out += [UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8((~length >> 8) & 0xff)]
            out += bytes[offset..<(offset + length)]
            offset += length
        } while offset < bytes.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        return out + bigEndian(b << 16 | a)
    }

    private static func chunk(_ type: String, _ data: [UInt8]) -> Data {
        let body = Array(type.utf8) + data
        return Data(bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body)))
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xffff_ffff
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
        return c ^ 0xffff_ffff
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }
}
