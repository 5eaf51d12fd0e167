// `--attach PATH`: the screen as an agent's `wabox` runs it while a `wabox serve` in
// another process commits webhooks to the same file. The real `InboxApp` loop (key wait,
// change-count poll, list and thread reloads, render) runs on a terminal in memory
// whose keys arrive at a person's pace; each key press is timed from the moment the loop
// receives it to the end of the loop turn that drew its frame.
import Foundation
import InboxCore
import InboxStore
import InboxTUI

/// A terminal in memory whose keys come at set instants: `readKey` waits as curses does,
/// until the next key is due or the timeout ends, whichever is first.
final class PacedBackend: TerminalBackend {
    let width: Int
    let height: Int
    private var script: [ScriptedKey]
    /// When the first key of the current loop turn was handed to the app, and its kind.
    private(set) var firstKeyAt: ContinuousClock.Instant?
    private(set) var firstKind: KeyKind?
    private(set) var drawCount = 0
    private(set) var lastFrame: Frame?

    struct ScriptedKey {
        var at: ContinuousClock.Instant
        var key: Key
        var kind: KeyKind
    }

    init(width: Int, height: Int, script: [ScriptedKey]) {
        self.width = width
        self.height = height
        self.script = script
    }

    var size: (width: Int, height: Int) { (width, height) }
    var isFinished: Bool { script.isEmpty }

    func draw(_ frame: Frame) {
        lastFrame = frame
        drawCount += 1
    }

    func alert(_ alert: TerminalAlert) {}

    func readKey(timeoutMilliseconds: Int) -> Key? {
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(timeoutMilliseconds))
        guard let next = script.first, next.at <= deadline else {
            if timeoutMilliseconds > 0 { Thread.sleep(forTimeInterval: Double(timeoutMilliseconds) / 1000) }
            return nil
        }
        let wait = next.at - ContinuousClock.now
        if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.attoseconds) / 1e18 + Double(wait.components.seconds)) }
        script.removeFirst()
        if firstKeyAt == nil {
            firstKeyAt = ContinuousClock.now
            firstKind = next.kind
        }
        return next.key
    }

    /// Forgets the current turn's key before the next turn.
    func startTurn() {
        firstKeyAt = nil
        firstKind = nil
    }
}

/// What a key press does on the screen, to report each kind apart.
enum KeyKind: String, CaseIterable {
    case move = "move selection (j/k)"
    case open = "open conversation (enter), back (esc)"
    case filter = "filter (/ and typing)"
    case search = "message search (s and typing)"
}

/// A person using the inbox: moving through the list, opening a conversation, filtering
/// by name, searching messages; repeated until `count` keys.
func humanKeys(count: Int) -> [(Key, KeyKind)] {
    var cycle: [(Key, KeyKind)] = []
    cycle += [Key.character("j"), .character("j"), .character("j"), .character("k")].map { ($0, .move) }
    cycle += [(.enter, .open), (.escape, .open)]
    cycle += [(.character("/"), .filter)] + "kenji".map { (.character($0), .filter) } + [(.escape, .filter)]
    cycle += [(.character("j"), .move), (.enter, .open), (.escape, .open)]
    cycle += [(.character("s"), .search)] + "commande".map { (.character($0), .search) } + [(.escape, .search)]
    return (0..<count).map { cycle[$0 % cycle.count] }
}

func measureAttached(path: String, options: Options) throws {
    // As `wabox` opens it: read-write (an attached screen marks conversations read), as this account.
    let database = try InboxDatabase(path: path)
    let agent = database.identity.account
    try database.registerAgent(at: Int64(Date().timeIntervalSince1970))

    let pollMilliseconds = ChangeWake.pollingWaitMilliseconds
    let start = ContinuousClock.now.advanced(by: .milliseconds(500))
    let keyCount = options.seconds * 1000 / options.keyIntervalMilliseconds
    let keys = humanKeys(count: keyCount)
    var generator = SystemRandomNumberGenerator()
    var at = start
    var script: [PacedBackend.ScriptedKey] = []
    for (key, kind) in keys {
        // A steady typist: the interval ± 50 %, so key presses fall anywhere in a poll wait.
        let jitter = Int.random(in: -options.keyIntervalMilliseconds / 2...options.keyIntervalMilliseconds / 2, using: &generator)
        at = at.advanced(by: .milliseconds(options.keyIntervalMilliseconds + jitter))
        script.append(.init(at: at, key: key, kind: kind))
    }
    let backend = PacedBackend(width: options.width, height: options.height, script: script)
    let app = InboxApp(database: database, backend: backend, theme: .builtIn,
                       configuration: .init(pollMilliseconds: pollMilliseconds, agent: agent))
    app.step()

    var latencies: [(kind: KeyKind, milliseconds: Double)] = []
    var turns = 0, reloads = 0
    var lastVersion = database.changeCount
    let began = ContinuousClock.now
    while !backend.isFinished {
        backend.startTurn()
        app.step(waitMilliseconds: pollMilliseconds)
        turns += 1
        // Keys that came within one turn are drawn together; the first one waited longest.
        if let keyAt = backend.firstKeyAt, let kind = backend.firstKind {
            latencies.append((kind, milliseconds(since: keyAt)))
        }
        // The statement the app polls: roughly, the turns that reloaded for other commits.
        let version = database.changeCount
        if version != lastVersion {
            reloads += 1
            lastVersion = version
        }
    }
    let seconds = milliseconds(since: began) / 1000
    let all = latencies.map(\.milliseconds)
    guard !all.isEmpty else { throw BenchError("no key press was measured") }
    print("attached screen: \(latencies.count) key presses over \(format(seconds)) s, \(turns) loop turns, "
          + "\(reloads) reloads for other processes' commits (\(format(Double(reloads) / seconds))/s), \(backend.drawCount) frames, "
          + "terminal \(options.width)x\(options.height)")
    print("key press to frame drawn: p50 \(format(percentile(all, 0.5))) ms, p99 \(format(percentile(all, 0.99))) ms, "
          + "max \(format(all.max() ?? 0)) ms  [target: p99 < 50 ms]")
    for kind in KeyKind.allCases {
        let values = latencies.filter { $0.kind == kind }.map(\.milliseconds)
        guard !values.isEmpty else { continue }
        print("  \(kind.rawValue): p50 \(format(percentile(values, 0.5))) ms, p99 \(format(percentile(values, 0.99))) ms, "
              + "max \(format(values.max() ?? 0)) ms over \(values.count)")
    }
    print("RESULT keys=\(all.count) p50_ms=\(format(percentile(all, 0.5))) p99_ms=\(format(percentile(all, 0.99))) "
          + "max_ms=\(format(all.max() ?? 0)) reloads=\(reloads)")
}
