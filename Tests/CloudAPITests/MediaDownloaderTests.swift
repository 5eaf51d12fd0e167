import CloudAPI
import Crypto
import Foundation
import InboxCore
import InboxStore
import InboxTesting
import MediaPreview
import Simulator
import Testing

/// Media downloads against the fake Cloud API over real loopback HTTP.
@Suite struct MediaDownloaderTests {
    static let photo = Data((0..<20_000).map { UInt8(($0 * 7) % 251) })

    /// A customer's image webhook as Meta sends it: the digest in base64.
    static func imageWebhook(mediaID: String, bytes: Data, wamid: String, sentAt: Int64) -> IncomingWebhook {
        let digest = Data(SHA256.hash(data: bytes)).base64EncodedString()
        let body = """
            {"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{\
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},\
            "contacts":[{"profile":{"name":"Kenji Sato"},"wa_id":"819012345678","user_id":"JP.1100293847561029384"}],\
            "messages":[{"from":"819012345678","id":"\(wamid)","timestamp":"\(sentAt)","type":"image",\
            "image":{"id":"\(mediaID)","mime_type":"image/jpeg","sha256":"\(digest)","caption":"the box"}}]}}]}]}
            """
        return Fixtures.webhook(body: Data(body.utf8), receivedAt: sentAt)
    }

    struct Setup {
        let temp: TemporaryDatabase
        let fake: FakeCloudAPI
        var mediaDirectory: String { temp.directory.appendingPathComponent("media").path }

        func downloader(_ url: String, maxBytes: Int = 1 << 20, now: Int64? = nil) -> MediaDownloader {
            let clock = now ?? Int64(Date().timeIntervalSince1970 * 1000)
            return MediaDownloader(database: temp.database, client: client(url),
                                   configuration: .init(directory: mediaDirectory, maxBytes: maxBytes, baseDelay: 1),
                                   logger: quiet, now: { clock })
        }

        func queued(_ messageWamid: String) throws -> MediaItem {
            let id = try #require(try temp.database.message(MessageID(messageWamid))?.rowID)
            return try #require(try temp.database.media(ofMessage: id))
        }
    }

    func setup(media: [(String, Data)] = [("4001", photo)]) throws -> Setup {
        let fake = FakeCloudAPI(accessToken: accessToken)
        for (id, bytes) in media { fake.addMedia(id: id, mimeType: "image/jpeg", bytes: bytes) }
        return Setup(temp: try TemporaryDatabase(), fake: fake)
    }

    var now: Int64 { Int64(Date().timeIntervalSince1970) }

    @Test func aPhotoIsCheckedKeptByItsHashAndNeverDownloadedTwice() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([
            Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.1", sentAt: now),
            Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.2", sentAt: now),
        ])
        #expect(try await setup.temp.database.queueNewMedia() == 2)
        #expect(try await setup.temp.database.queueNewMedia() == 0, "queued once")
        try await setup.fake.withRunning { url in
            let downloader = setup.downloader(url)
            let first = await downloader.download(try setup.queued("wamid.IMG.1"))
            let hash = MediaDigest.hex(of: Self.photo)
            #expect(first == .ready(path: "\(setup.mediaDirectory)/\(hash)"))
            #expect(await downloader.download(try setup.queued("wamid.IMG.2")) == first)
        }
        #expect(setup.fake.mediaDownloads == 1, "the second message reuses the file")
        let item = try setup.queued("wamid.IMG.1")
        #expect(item.state == .ready)
        #expect(item.fileSize == Int64(Self.photo.count))
        let path = try #require(item.path)
        #expect(FileManager.default.contents(atPath: path) == Self.photo)
        // Beside a private database the media are private too.
        #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        var lines: [String] = []
        try setup.temp.database.export { lines.append($0.jsonLine) }
        #expect(lines.first?.contains(#""media":{"id":"4001","mime_type":"image/jpeg","sha256":""#) == true, "\(lines)")
        #expect(lines.first?.contains(#""file_size":20000,"filename":null,"state":"ready","reason":null,"path":"\#(path)"}"#) == true,
                "\(lines)")
    }

    @Test func aLargePhotoLandsWithItsThumbnailBesideIt() async throws {
        let photo = try ImageEncoder.jpeg(width: 2400, height: 1800, quality: 75) { x, y in (UInt8(x % 256), UInt8(y % 256), 90) }
        let setup = try setup(media: [("4009", photo)])
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([
            Self.imageWebhook(mediaID: "4009", bytes: photo, wamid: "wamid.IMG.9", sentAt: now),
        ])
        #expect(try await setup.temp.database.queueNewMedia() == 1)
        let path = try await setup.fake.withRunning { url in
            let outcome = await setup.downloader(url, maxBytes: 4 << 20).download(try setup.queued("wamid.IMG.9"))
            guard case .ready(let path) = outcome else { throw Fixtures.FixtureError(description: "the photo did not land: \(outcome)") }
            return path
        }
        // Ready means the thumbnail is there too: a screen never decodes the 4 megapixels.
        let thumbnail = PreviewThumbnail.path(forImageAt: path)
        let header = try ImageHeader.read(try #require(FileManager.default.contents(atPath: thumbnail)))
        #expect((header.format, header.width, header.height) == (.webp, 300, 225))
        #expect((try FileManager.default.attributesOfItem(atPath: thumbnail)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func anExpiredURLGetsFreshMetadataOnce() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.1", sentAt: now)])
        try await setup.temp.database.queueNewMedia()
        setup.fake.expireNextDownloadURL(of: "4001")
        try await setup.fake.withRunning { url in
            let outcome = await setup.downloader(url).download(try setup.queued("wamid.IMG.1"))
            guard case .ready = outcome else { Issue.record("\(outcome)"); return }
        }
        let metadataCalls = setup.fake.requests.filter { $0.method == "GET" && $0.path.hasSuffix("/v26.0/4001") }
        #expect(metadataCalls.count == 2)
        #expect(setup.fake.mediaDownloads == 1)
    }

    @Test func aWrongHashKeepsNothing() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        // The webhook's digest is of other bytes than the fake serves.
        _ = try await setup.temp.database.ingest([
            Self.imageWebhook(mediaID: "4001", bytes: Data("other".utf8), wamid: "wamid.IMG.1", sentAt: now)])
        try await setup.temp.database.queueNewMedia()
        try await setup.fake.withRunning { url in
            let item = try setup.queued("wamid.IMG.1")
            #expect(await setup.downloader(url).download(item) == .failed("hash mismatch"))
        }
        #expect(try setup.queued("wamid.IMG.1").state == .failed)
        #expect(try setup.queued("wamid.IMG.1").reason == "hash mismatch")
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: setup.mediaDirectory)) ?? []
        #expect(kept.isEmpty, "\(kept)")
    }

    @Test func theMetadatasDigestIsCheckedToo() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.1", sentAt: now)])
        try await setup.temp.database.queueNewMedia()
        setup.fake.advertiseWrongHash(for: "4001")
        try await setup.fake.withRunning { url in
            let item = try setup.queued("wamid.IMG.1")
            #expect(await setup.downloader(url).download(item) == .failed("hash mismatch"))
        }
    }

    @Test func oversizeMediaAreRefusedBeforeDownloading() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.1", sentAt: now)])
        try await setup.temp.database.queueNewMedia()
        try await setup.fake.withRunning { url in
            let outcome = await setup.downloader(url, maxBytes: 10_000).download(try setup.queued("wamid.IMG.1"))
            #expect(outcome == .failed("too large: 20000 bytes, over the limit of 10000 (media_max_bytes)"))
        }
        #expect(setup.fake.mediaDownloads == 0)
    }

    @Test func mediaOlderThanSevenDaysOrUnknownExpire() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([
            Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.old", sentAt: now - 8 * 86_400),
            Self.imageWebhook(mediaID: "4999", bytes: Self.photo, wamid: "wamid.IMG.gone", sentAt: now),
        ])
        try await setup.temp.database.queueNewMedia()
        try await setup.fake.withRunning { url in
            let downloader = setup.downloader(url)
            guard case .expired = await downloader.download(try setup.queued("wamid.IMG.old")) else {
                Issue.record("an 8-day-old media id should expire"); return
            }
            guard case .expired = await downloader.download(try setup.queued("wamid.IMG.gone")) else {
                Issue.record("a media id the Cloud API does not know should expire"); return
            }
        }
        #expect(setup.fake.requests.filter { $0.path.contains("4001") }.isEmpty, "an expired id is not even asked for")
        #expect(try setup.temp.database.mediaCounts()[.expired] == 2)
    }

    /// A download that could not finish is retried by the next process on the same file.
    @Test func aRestartResumesTheQueue() async throws {
        let setup = try setup()
        defer { setup.temp.remove() }
        _ = try await setup.temp.database.ingest([Self.imageWebhook(mediaID: "4001", bytes: Self.photo, wamid: "wamid.IMG.1", sentAt: now)])
        try await setup.temp.database.queueNewMedia()
        let start = Int64(Date().timeIntervalSince1970 * 1000)
        // Nothing listens on port 1: a transient failure, retried later.
        let offline = setup.downloader("http://127.0.0.1:1", now: start)
        guard case .retryScheduled(let at, _) = await offline.download(try setup.queued("wamid.IMG.1")) else {
            Issue.record("an unreachable API should be retried"); return
        }
        #expect(try await setup.temp.database.dueMedia(at: start, limit: 10).isEmpty, "not due before its retry")

        // Another process opens the same file later and finishes the job.
        let reopened = try InboxDatabase(path: setup.temp.path)
        try await setup.fake.withRunning { url in
            let downloader = MediaDownloader(database: reopened, client: client(url),
                                             configuration: .init(directory: setup.mediaDirectory), logger: quiet,
                                             now: { at })
            let tried = try await downloader.runDue()
            #expect(tried == 1)
        }
        #expect(try setup.queued("wamid.IMG.1").state == .ready)
    }
}

/// The demo's customers send real files that download as Meta's would.
@Suite struct DemoMediaTests {
    @Test func theDemosFilesDownloadAndCheck() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let fake = FakeCloudAPI(accessToken: accessToken)
        for file in DemoMedia.all { fake.addMedia(id: file.id, mimeType: file.mimeType, bytes: file.bytes) }
        let builder = WebhookBuilder()
        let customer = SimulatedCustomer(name: "Wang Fang", waID: "8613800138000")
        let webhooks = DemoMedia.all.map { Fixtures.webhook(body: builder.message(from: customer, .file($0))) }
        _ = try await temp.database.ingest(webhooks)
        #expect(try await temp.database.queueNewMedia() == DemoMedia.all.count)
        let directory = temp.directory.appendingPathComponent("media").path
        try await fake.withRunning { url in
            let downloader = MediaDownloader(database: temp.database, client: client(url),
                                             configuration: .init(directory: directory), logger: quiet)
            _ = try await downloader.runDue()
        }
        #expect(try temp.database.mediaCounts() == [.ready: DemoMedia.all.count])
        // The photo is a PNG a decoder takes: signature and IHDR of 96×72 RGB.
        let photo = try #require(DemoMedia.all.first)
        #expect(photo.bytes.prefix(8) == Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
        #expect(Array(photo.bytes[16..<25]) == [0, 0, 0, 96, 0, 0, 0, 72, 8])
    }
}
