// `--preview RUNS`: a customer's 12-megapixel photo (4000×3000, made here with libjpeg) in
// the media store; the real `InboxApp` loop on a terminal in memory whose key wait sleeps
// as curses does. Times, RUNS times on a fresh screen (an empty preview cache), from the
// key that opens the thread to the end of the loop turn whose frame shows the picture;
// then the redraws that follow (keys typed in the compose line, the picture on screen).
import Foundation
import InboxCore
import InboxStore
import InboxTUI
import MediaPreview

/// A terminal in memory whose `readKey` waits out its timeout when no key is queued.
final class WaitingBackend: TerminalBackend {
    let width: Int
    let height: Int
    var pendingKeys: [Key] = []
    private(set) var lastFrame: Frame?

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    var size: (width: Int, height: Int) { (width, height) }

    func draw(_ frame: Frame) { lastFrame = frame }
    func alert(_ alert: TerminalAlert) {}

    func readKey(timeoutMilliseconds: Int) -> Key? {
        if !pendingKeys.isEmpty { return pendingKeys.removeFirst() }
        if timeoutMilliseconds > 0 { Thread.sleep(forTimeInterval: Double(timeoutMilliseconds) / 1000) }
        return nil
    }

    /// Whether the frame holds a picture: a row with ten cells or more in indexed colours.
    var showsPicture: Bool {
        guard let buffer = lastFrame?.buffer else { return false }
        return (0..<buffer.height).contains { row in
            (0..<buffer.width).count { column in
                if case .index(let index) = buffer[column, row].style.background { index >= 16 } else { false }
            } >= 10
        }
    }
}

/// A photo with detail everywhere (gradients, stripes, noise), so that it compresses like a
/// real one rather than to nothing.
func detailedPhoto(width: Int, height: Int) throws -> Data {
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    var index = 0
    for y in 0..<height {
        for x in 0..<width {
            let noise = UInt32(truncatingIfNeeded: (x &* 73_856_093) ^ (y &* 19_349_663)) % 48
            let stripe = ((x / 37 + y / 53) % 2) * 40
            rgb[index] = UInt8(truncatingIfNeeded: x * 255 / width / 2 + stripe + Int(noise))
            rgb[index + 1] = UInt8(truncatingIfNeeded: y * 255 / height / 2 + Int(noise))
            rgb[index + 2] = UInt8(truncatingIfNeeded: 90 + stripe + Int(noise) / 2)
            index += 3
        }
    }
    return try ImageEncoder.jpeg(rgb: rgb, width: width, height: height, quality: 88)
}

func measurePreview(runs: Int, options: Options) throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-preview-bench-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    let generation = ContinuousClock.now
    let photo = try detailedPhoto(width: 4000, height: 3000)
    let photoPath = directory.appendingPathComponent("media-4000x3000").path
    try photo.write(to: URL(fileURLWithPath: photoPath))
    print("wabox preview benchmark: a 4000×3000 JPEG (12 megapixels, \(photo.count / 1024) KB, made in "
          + "\(format(milliseconds(since: generation))) ms), terminal \(options.width)x\(options.height)")

    // Two customers: the newest wrote text, the other sent the photo (downloaded).
    let databasePath = directory.appendingPathComponent("inbox.sqlite").path
    let database = try InboxDatabase(path: databasePath)
    let now = Int64(Date().timeIntervalSince1970)
    func webhook(_ waID: String, _ name: String, _ message: String) -> IncomingWebhook {
        let body = Data(#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"\#(name)"},"wa_id":"\#(waID)"}],"messages":[\#(message)]}}]}]}"#.utf8)
        return IncomingWebhook(receivedAt: now, body: body)
    }
    _ = try database.ingestSync([
        webhook("8613800138000", "Wang Fang",
                #"{"from":"8613800138000","id":"wamid.bench.photo","timestamp":"\#(now - 120)","type":"image","image":{"id":"990001","mime_type":"image/jpeg","sha256":"x","caption":"the parcel"}}"#),
        webhook("33612345678", "Amélie Laurent",
                #"{"from":"33612345678","id":"wamid.bench.text","timestamp":"\#(now - 60)","type":"text","text":{"body":"Bonjour"}}"#),
    ])
    let queued = runBlocking { try await database.queueNewMedia() }
    guard queued == 1, let conversation = try database.conversations(matching: "Wang").items.first,
          let message = try database.messages(in: conversation.id).items.first else {
        throw BenchError("the photo message was not stored")
    }
    runBlocking {
        try await database.markMediaReady(message.rowID, contentHash: "bench", path: photoPath,
                                          fileSize: Int64(photo.count), mimeType: "image/jpeg")
    }

    // Opening the thread: Down from Amélie (selected, newest) to Wang Fang, until drawn.
    func openThread() throws -> (times: [Double], app: InboxApp, backend: WaitingBackend) {
        var times: [Double] = []
        var last: (InboxApp, WaitingBackend)?
        for _ in 0..<runs {
            let backend = WaitingBackend(width: options.width, height: options.height)
            let candidate = InboxApp(database: try InboxDatabase(path: databasePath), backend: backend, theme: .builtIn,
                                     configuration: .init(utcOffset: 0, pollMilliseconds: 1000, reloadInterval: .zero))
            candidate.step()
            guard candidate.state.open?.contact.displayName == "Amélie Laurent", !backend.showsPicture else {
                throw BenchError("the screen did not open on Amélie's text")
            }
            backend.pendingKeys = [.down]
            let start = ContinuousClock.now
            while !backend.showsPicture {
                candidate.step(waitMilliseconds: 1000)
                if milliseconds(since: start) > 10_000 { throw BenchError("the picture never showed") }
            }
            times.append(milliseconds(since: start))
            last = (candidate, backend)
        }
        guard let last else { throw BenchError("no run") }
        return (times, last.0, last.1)
    }
    // The picture alone, as the screen's queue makes it: the wall time depends on what else
    // the machine runs; the CPU time of the thread (header, decoding, the cells; chafa's own
    // worker threads not counted) does not.
    func makePicture(_ request: PreviewRequest) throws -> (wall: [Double], cpu: [Double]) {
        var wall: [Double] = [], cpu: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now, cpuStart = threadCPUMilliseconds()
            guard case .success = ImagePreviewer.make(request) else { throw BenchError("the picture could not be made") }
            cpu.append(threadCPUMilliseconds() - cpuStart)
            wall.append(milliseconds(since: start))
        }
        return (wall, cpu)
    }

    // A photo an older version downloaded: no thumbnail beside it, the screen decodes 12 MP.
    let (withoutTimes, withoutApp, _) = try openThread()
    guard let request = withoutApp.state.previews.keys.first else { throw BenchError("no picture was asked for") }
    let withoutPicture = try makePicture(request)
    // The downloader makes the thumbnail once, when the photo lands.
    var thumbnailWall: [Double] = [], thumbnailCPU: [Double] = []
    for _ in 0..<max(1, runs / 2) {
        let start = ContinuousClock.now, cpuStart = threadCPUMilliseconds()
        guard case .success(true) = PreviewThumbnail.write(forImageAt: photoPath) else {
            throw BenchError("the thumbnail was not made")
        }
        thumbnailCPU.append(threadCPUMilliseconds() - cpuStart)
        thumbnailWall.append(milliseconds(since: start))
    }
    let thumbnailSize = (try? FileManager.default.attributesOfItem(atPath: PreviewThumbnail.path(forImageAt: photoPath))[.size]
        as? NSNumber)?.intValue ?? 0
    let (firstPreview, app, backend) = try openThread()
    let picture = try makePicture(request)

    print("open the thread to the first frame with the 12 MP photo drawn: median \(format(percentile(firstPreview, 0.5))) ms, "
          + "max \(format(firstPreview.max() ?? 0)) ms over \(firstPreview.count) runs  [target < 100 ms]")
    print("  of which making the picture (\(request.maxColumns)×\(request.maxRows) cells at most) from the thumbnail: median "
          + "\(format(percentile(picture.wall, 0.5))) ms, CPU time of its thread median \(format(percentile(picture.cpu, 0.5))) ms")
    print("  the thumbnail (\(thumbnailSize / 1024) KB WebP), made once by the downloader: median "
          + "\(format(percentile(thumbnailWall, 0.5))) ms, CPU median \(format(percentile(thumbnailCPU, 0.5))) ms")
    print("without a thumbnail (a photo an older version downloaded): median \(format(percentile(withoutTimes, 0.5))) ms, "
          + "max \(format(withoutTimes.max() ?? 0)) ms over \(withoutTimes.count) runs")
    print("  of which making the picture from the 12 MP file: median \(format(percentile(withoutPicture.wall, 0.5))) ms, "
          + "CPU time of its thread median \(format(percentile(withoutPicture.cpu, 0.5))) ms")

    // Redraws with the picture on screen: keys typed in the compose line.
    backend.pendingKeys = [.enter]
    app.step()
    var keyTimes: [Double] = []
    for index in 0..<400 {
        backend.pendingKeys = [index % 40 == 39 ? .control("u") : .character("abcdefghij".randomElement()!)]
        let start = ContinuousClock.now
        app.step()
        keyTimes.append(milliseconds(since: start))
    }
    guard backend.showsPicture else { throw BenchError("the picture went away while typing") }
    let renderTimes = renderTimes(of: app.state, runs: 100)
    print("redraw with the photo on screen (key, reduce, render): median \(format(percentile(keyTimes, 0.5))) ms, "
          + "p99 \(format(percentile(keyTimes, 0.99))) ms over \(keyTimes.count) keys  [target < 16 ms]")
    print("  of which render alone: median \(format(percentile(renderTimes, 0.5))) ms, "
          + "p99 \(format(percentile(renderTimes, 0.99))) ms")
}

/// The CPU time this thread has used, in milliseconds.
func threadCPUMilliseconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) * 1000 + Double(time.tv_nsec) / 1e6
}

/// Runs async store work from this synchronous benchmark, on the cooperative pool.
func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.set(.success(try await work())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    do { return try box.get().get() } catch { fatalError("wabox-screen-bench: \(error)") }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private var result: Result<T, Error>?
    private let lock = NSLock()
    func set(_ value: Result<T, Error>) { lock.withLock { result = value } }
    func get() -> Result<T, Error> { lock.withLock { result! } }
}
