import Foundation
import Glibc
import InboxTesting
@testable import MediaPreview
import Testing

/// Large photos' thumbnails: made once beside the file, then what the screen decodes.
@Suite struct ThumbnailTests {
    /// Left half red, right half blue.
    private func halves(_ x: Int, _ width: Int) -> (UInt8, UInt8, UInt8) { x < width / 2 ? (230, 20, 20) : (20, 20, 230) }

    private func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-thumbnail-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `jpeg` with its scan data scrambled after an intact header: only the header is readable.
    private func damaged(_ jpeg: Data) throws -> Data {
        var bytes = [UInt8](jpeg)
        let sos = try #require((0..<bytes.count - 1).first { bytes[$0] == 0xff && bytes[$0 + 1] == 0xda })
        for index in (sos + 20)..<(bytes.count - 2) { bytes[index] = 0 }
        bytes.removeLast(bytes.count - (sos + 40))
        return Data(bytes)
    }

    @Test func aLargePhotoGetsASmallThumbnailAndASmallOneNone() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let large = directory.appendingPathComponent("large").path
        try ImageEncoder.jpeg(width: 2000, height: 1500) { x, _ in halves(x, 2000) }.write(to: URL(fileURLWithPath: large))
        #expect(try PreviewThumbnail.write(forImageAt: large, permissions: 0o640).get() == true)
        let thumbnail = try #require(FileManager.default.contents(atPath: PreviewThumbnail.path(forImageAt: large)))
        let header = try ImageHeader.read(thumbnail)
        // libjpeg's 1/8 is the smallest scale at least 128 pixels high: 250 × 188.
        #expect(header.format == .webp)
        #expect((header.width, header.height) == (250, 188))
        #expect(thumbnail.count < 20_000, "\(thumbnail.count) bytes")
        let mode = try FileManager.default.attributesOfItem(atPath: PreviewThumbnail.path(forImageAt: large))[.posixPermissions]
        #expect((mode as? NSNumber)?.intValue == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() == ["large", "large.preview.webp"],
                "no temporary file is left")

        let small = directory.appendingPathComponent("small").path
        try ImageEncoder.jpeg(width: 640, height: 480) { x, _ in halves(x, 640) }.write(to: URL(fileURLWithPath: small))
        #expect(try PreviewThumbnail.write(forImageAt: small).get() == false)
        #expect(!FileManager.default.fileExists(atPath: PreviewThumbnail.path(forImageAt: small)))

        let text = directory.appendingPathComponent("notes").path
        try Data("%PDF-1.4\n".utf8).write(to: URL(fileURLWithPath: text))
        #expect(PreviewThumbnail.write(forImageAt: text) == .failure(.notAnImage))
    }

    @Test func theScreenDrawsALargePhotoFromItsThumbnail() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("photo").path
        let jpeg = try ImageEncoder.jpeg(width: 4000, height: 3000, quality: 80) { x, _ in halves(x, 4000) }
        try jpeg.write(to: URL(fileURLWithPath: path))
        let request = PreviewRequest(path: path, maxColumns: 40, maxRows: 8, colors: .indexed240)
        let direct = try ImagePreviewer.make(request).get()
        try PreviewThumbnail.write(forImageAt: path).get()
        // The photo's pixels become unreadable: only its thumbnail can still draw it.
        let thumbnailPath = PreviewThumbnail.path(forImageAt: path)
        let photoTime = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) - 10)
        try damaged(jpeg).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: photoTime], ofItemAtPath: path)
        let viaThumbnail = try ImagePreviewer.make(request).get()
        #expect(viaThumbnail.format == .jpeg, "the photo's own format and size, from its header")
        #expect((viaThumbnail.pixelWidth, viaThumbnail.pixelHeight) == (4000, 3000))
        #expect((viaThumbnail.columns, viaThumbnail.rows) == (direct.columns, direct.rows))
        let differing = zip(direct.cells, viaThumbnail.cells).filter { $0 != $1 }.count
        #expect(differing <= direct.cells.count / 10, "\(differing) of \(direct.cells.count) cells differ from the photo's own")

        // A thumbnail older than the photo is not the photo's: the photo is decoded (and is damaged).
        try FileManager.default.setAttributes([.modificationDate: photoTime.addingTimeInterval(-60)], ofItemAtPath: thumbnailPath)
        guard case .failure(let failure) = ImagePreviewer.make(request) else {
            Issue.record("a stale thumbnail was used")
            return
        }
        #expect(failure.description.hasPrefix("the file is damaged or cut short"), "\(failure)")
    }

    @Test func everyPictureTheThreadAsksForFitsInTheThumbnail() throws {
        let directory = try folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A photo, a panorama and a tall screenshot, in boxes from a narrow to a wide terminal.
        for (width, height) in [(4000, 3000), (6000, 600), (1170, 2532)] {
            let path = directory.appendingPathComponent("\(width)x\(height)").path
            try ImageEncoder.jpeg(width: width, height: height, quality: 70) { x, _ in halves(x, width) }
                .write(to: URL(fileURLWithPath: path))
            try PreviewThumbnail.write(forImageAt: path).get()
            let thumbnail = try #require(FileManager.default.contents(atPath: PreviewThumbnail.path(forImageAt: path)))
            let small = try ImageHeader.read(thumbnail)
            for (columns, rows) in [(20, 2), (60, 8), (119, 8), (300, 8)] {
                let (c, r) = ImagePreviewer.fit(width: width, height: height, maxColumns: columns, maxRows: rows)
                #expect(small.width >= c * 8 && small.height >= r * 8,
                        "\(width)×\(height) in \(columns)×\(rows): \(c)×\(r) cells need \(c * 8)×\(r * 8), the thumbnail is \(small.width)×\(small.height)")
            }
        }
    }
}
