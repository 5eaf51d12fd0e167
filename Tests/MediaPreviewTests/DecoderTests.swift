import CImageCodecs
import Foundation
@testable import MediaPreview
import Simulator
import Testing

/// The decoders and the symbols, on images the tests make themselves: PNG with the
/// simulator's encoder, JPEG with libjpeg, WebP with libwebp.
@Suite struct DecoderTests {
    /// Left half red, right half blue.
    private func halves(_ x: Int, _ width: Int) -> (UInt8, UInt8, UInt8) { x < width / 2 ? (230, 20, 20) : (20, 20, 230) }

    /// The colour an indexed colour stands for on a 256-colour terminal.
    private func rgb(_ color: PreviewColor) -> (Int, Int, Int)? {
        guard case .index(let index) = color, index >= 16 else { return nil }
        let i = Int(index)
        if i >= 232 {
            let gray = 8 + (i - 232) * 10
            return (gray, gray, gray)
        }
        let steps = [0, 95, 135, 175, 215, 255]
        return (steps[(i - 16) / 36], steps[(i - 16) / 6 % 6], steps[(i - 16) % 6])
    }

    private func isReddish(_ color: PreviewColor) -> Bool {
        guard let (r, g, b) = rgb(color) else { return false }
        return r > 150 && g < 110 && b < 110
    }

    private func isBluish(_ color: PreviewColor) -> Bool {
        guard let (r, g, b) = rgb(color) else { return false }
        return b > 150 && r < 110 && g < 110
    }

    /// Every cell of the preview's first and last columns shows the left and right colour.
    private func expectHalves(_ preview: ImagePreview, sourceLocation: SourceLocation = #_sourceLocation) {
        for row in 0..<preview.rows {
            let left = preview.cells[row * preview.columns]
            let right = preview.cells[row * preview.columns + preview.columns - 1]
            #expect(isReddish(left.background) || isReddish(left.foreground), "row \(row) left: \(left)",
                    sourceLocation: sourceLocation)
            #expect(isBluish(right.background) || isBluish(right.foreground), "row \(row) right: \(right)",
                    sourceLocation: sourceLocation)
        }
    }

    @Test func aPNGIsDrawnInItsShapeAndColours() throws {
        let png = PNG.encode(width: 96, height: 72) { x, _ in halves(x, 96) }
        let preview = try ImagePreviewer.make(from: png, maxColumns: 40, maxRows: 8, colors: .indexed240).get()
        #expect(preview.format == .png)
        #expect((preview.pixelWidth, preview.pixelHeight) == (96, 72))
        // 4:3 at 8 rows of cells twice as tall as wide: 21 columns.
        #expect((preview.columns, preview.rows) == (21, 8))
        #expect(preview.cells.count == 21 * 8)
        expectHalves(preview)
        // One cell wide each, so the grid holds in the terminal.
        #expect(preview.cells.allSatisfy { String($0.character).unicodeScalars.count == 1 })
    }

    @Test func aJPEGDecodesAtAFractionOfItsSizeByDCTScaling() throws {
        let jpeg = try ImageEncoder.jpeg(width: 4000, height: 3000, quality: 80) { x, _ in halves(x, 4000) }
        let preview = try ImagePreviewer.make(from: jpeg, maxColumns: 40, maxRows: 8, colors: .indexed240).get()
        #expect(preview.format == .jpeg)
        #expect((preview.pixelWidth, preview.pixelHeight) == (4000, 3000))
        #expect((preview.columns, preview.rows) == (21, 8))
        expectHalves(preview)
        // What libjpeg hands over for 21 × 8 cells (168 × 64 pixels wanted): 1/8 of each side.
        let pixels = try jpeg.withUnsafeBytes { try DecodedPixels.decode($0, minWidth: 168, minHeight: 64).get() }
        pixels.withPixels { #expect(($0.width, $0.height) == (500, 375)) }
    }

    @Test func aWebPStickerKeepsItsTransparentCorners() throws {
        // A blue disc on nothing, as stickers are.
        let webp = try ImageEncoder.webp(width: 512, height: 512, quality: 90) { x, y in
            let dx = x - 256, dy = y - 256
            return dx * dx + dy * dy < 200 * 200 ? (20, 20, 230, 255) : (0, 0, 0, 0)
        }
        let preview = try ImagePreviewer.make(from: webp, maxColumns: 40, maxRows: 8, colors: .indexed240).get()
        #expect(preview.format == .webp)
        #expect((preview.columns, preview.rows) == (16, 8))
        let corner = preview.cells[0]
        #expect(corner.background == .terminalDefault, "the corner is transparent: \(corner)")
        let centre = preview.cells[4 * preview.columns + 8]
        #expect(isBluish(centre.background) || isBluish(centre.foreground), "the centre is the disc: \(centre)")
        // libwebp scaled it on the way: 512 → 128 for 16 × 8 cells.
        let pixels = try webp.withUnsafeBytes { try DecodedPixels.decode($0, minWidth: 128, minHeight: 64).get() }
        pixels.withPixels { #expect(($0.width, $0.height) == (128, 128)) }
    }

    @Test func withoutColoursOnlyTheHeaderIsRead() throws {
        let png = PNG.encode(width: 96, height: 72) { x, _ in halves(x, 96) }
        let preview = try ImagePreviewer.make(from: png, maxColumns: 40, maxRows: 8, colors: .none).get()
        #expect(!preview.hasPicture)
        #expect((preview.pixelWidth, preview.pixelHeight, preview.cells.count) == (96, 72, 0))
    }

    @Test func theShapeIsKeptInsideTheBox() {
        #expect(ImagePreviewer.fit(width: 96, height: 72, maxColumns: 40, maxRows: 8) == (21, 8))
        // Wide: the columns run out first.
        #expect(ImagePreviewer.fit(width: 1000, height: 100, maxColumns: 40, maxRows: 8) == (40, 2))
        // Tall: one row is never less than a column.
        #expect(ImagePreviewer.fit(width: 100, height: 1000, maxColumns: 40, maxRows: 8) == (2, 8))
        // Tiny: not blown up past a braille cell's 2 × 4 dots.
        #expect(ImagePreviewer.fit(width: 8, height: 8, maxColumns: 40, maxRows: 8) == (4, 2))
        #expect(ImagePreviewer.fit(width: 0, height: 8, maxColumns: 40, maxRows: 8) == (0, 0))
    }
}

/// What is not drawn, and why, without a crash.
@Suite struct RefusalTests {
    /// A real 16×16 JPEG whose frame header is made to claim `width` × `height`, cut right
    /// after that header: no pixel data at all.
    private func jpegClaiming(width: Int, height: Int) throws -> Data {
        var bytes = [UInt8](try ImageEncoder.jpeg(width: 16, height: 16) { _, _ in (128, 128, 128) })
        let sof = try #require((0..<bytes.count - 1).first { bytes[$0] == 0xff && bytes[$0 + 1] == 0xc0 })
        bytes[sof + 5] = UInt8(height >> 8)
        bytes[sof + 6] = UInt8(height & 0xff)
        bytes[sof + 7] = UInt8(width >> 8)
        bytes[sof + 8] = UInt8(width & 0xff)
        let length = Int(bytes[sof + 2]) << 8 | Int(bytes[sof + 3])
        return Data(bytes[..<(sof + 2 + length)])
    }

    @Test func fiftyMegapixelsAndMoreAreRefusedFromTheHeaderAlone() throws {
        let jpeg = try jpegClaiming(width: 10_000, height: 6_000)
        #expect(jpeg.count < 1_000)
        let header = try ImageHeader.read(jpeg)
        #expect((header.format, header.width, header.height) == (ImageFormat.jpeg, 10_000, 6_000))
        // Refused for its size: the file has no pixels to decode, so had a decoder run, the
        // answer would have been "damaged".
        let result = ImagePreviewer.make(from: jpeg, maxColumns: 40, maxRows: 8, colors: .indexed240)
        #expect(result == .failure(.tooLarge(width: 10_000, height: 6_000)))
        #expect(PreviewFailure.tooLarge(width: 10_000, height: 6_000).description
                == "too large to preview: 10000×6000 is 60 megapixels, over the 50-megapixel limit (o opens it)")
        // The C decoder refuses it the same way, before it allocates anything.
        var pixels = wbx_pixels()
        let status = jpeg.withUnsafeBytes {
            wbx_decode($0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count, 8, 8, 50_000_000, &pixels, nil, 0)
        }
        #expect(status == WBX_TOO_LARGE)
        #expect(pixels.pixels == nil)

        // A PNG whose header chunk claims the same, and nothing after it.
        var png = [UInt8](PNG.encode(width: 1, height: 1) { _, _ in (0, 0, 0) }.prefix(33))
        png.replaceSubrange(16..<24, with: [0, 0, 0x27, 0x10, 0, 0, 0x17, 0x70])
        #expect(ImagePreviewer.make(from: Data(png), maxColumns: 40, maxRows: 8, colors: .indexed240)
                == .failure(.tooLarge(width: 10_000, height: 6_000)))
        // Just under the limit is not refused for its size (it is refused for having no pixels).
        let under = try jpegClaiming(width: 7_000, height: 7_000)
        guard case .failure(let failure) = ImagePreviewer.make(from: under, maxColumns: 40, maxRows: 8, colors: .indexed240) else {
            Issue.record("a JPEG without pixels was drawn")
            return
        }
        #expect(failure.description.hasPrefix("the file is damaged or cut short"), "\(failure)")
    }

    @Test func damagedAndTruncatedFilesGiveAReason() throws {
        let jpeg = try ImageEncoder.jpeg(width: 320, height: 240) { x, y in (UInt8(x & 0xff), UInt8(y & 0xff), 90) }
        let cut = jpeg.prefix(jpeg.count / 2)
        #expect(ImagePreviewer.make(from: Data(cut), maxColumns: 40, maxRows: 8, colors: .indexed240)
                == .failure(.damaged("Premature end of JPEG file")))
        // Scrambled scan data after an intact header.
        var scrambled = [UInt8](jpeg)
        let sos = try #require((0..<scrambled.count - 1).first { scrambled[$0] == 0xff && scrambled[$0 + 1] == 0xda })
        for index in (sos + 20)..<(scrambled.count - 2) { scrambled[index] = UInt8((index * 37) & 0xfe) }
        if case .failure(let failure) = ImagePreviewer.make(from: Data(scrambled), maxColumns: 40, maxRows: 8,
                                                             colors: .indexed240) {
            #expect(failure.description.hasPrefix("the file is damaged or cut short"), "\(failure)")
        }
        // A PNG whose pixel data was changed after its checksum was written.
        var png = [UInt8](PNG.encode(width: 64, height: 64) { x, y in (UInt8(x * 4), UInt8(y * 4), 0) })
        png[60] ^= 0xff
        guard case .failure(let pngFailure) = ImagePreviewer.make(from: Data(png), maxColumns: 40, maxRows: 8,
                                                                   colors: .indexed240) else {
            Issue.record("a damaged PNG was drawn")
            return
        }
        #expect(pngFailure.description.hasPrefix("the file is damaged or cut short ("), "\(pngFailure)")
        // A PNG cut inside its pixels.
        let shortPNG = PNG.encode(width: 64, height: 64) { _, _ in (1, 2, 3) }.prefix(2_000)
        #expect(ImagePreviewer.make(from: Data(shortPNG), maxColumns: 40, maxRows: 8, colors: .indexed240)
                == .failure(.damaged("the file ends early")))
        // A WebP cut short.
        let webp = try ImageEncoder.webp(width: 64, height: 64) { x, _ in (UInt8(x * 4), 0, 0, 255) }
        if case .success = ImagePreviewer.make(from: webp.prefix(webp.count - 40), maxColumns: 40, maxRows: 8,
                                               colors: .indexed240) {
            Issue.record("a truncated WebP was drawn")
        }
        // Not an image at all, and nothing.
        #expect(ImagePreviewer.make(from: Data("%PDF-1.4\n".utf8), maxColumns: 40, maxRows: 8, colors: .indexed240)
                == .failure(.notAnImage))
        #expect(ImagePreviewer.make(from: Data(), maxColumns: 40, maxRows: 8, colors: .indexed240) == .failure(.notAnImage))
    }

    @Test func aFileThatIsNotThereSaysSo() throws {
        let request = PreviewRequest(path: "/nonexistent/wabox/ab12", maxColumns: 40, maxRows: 8, colors: .indexed240)
        #expect(ImagePreviewer.make(request)
                == .failure(PreviewFailure("cannot open /nonexistent/wabox/ab12: No such file or directory")))
    }
}
