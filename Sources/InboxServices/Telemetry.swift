import CloudAPI
import Foundation
import InboxStore
import Metrics
import Prometheus
import WebhookServer

/// wabox's metrics. Every module uses the swift-metrics API (`Counter`, `Timer`,
/// `Recorder`, `Gauge`); this is the one place that knows the backend is swift-prometheus:
/// it bootstraps swift-metrics with it and renders its registry for `GET /metrics`, with
/// the figures that live in the database read at each scrape and the process's own.
public final class Telemetry: Sendable {
    /// A name, its Prometheus type and what it means: the `# HELP` lines and the
    /// docs/operations.md's table.
    public struct Metric: Sendable {
        public var name: String
        public var type: String
        public var labels: String
        public var help: String
    }

    /// Every metric wabox exports (the process's own figures follow Prometheus's client
    /// libraries: `process_*`).
    public static let catalogue: [Metric] = [
        Metric(name: MetricNames.webhooksReceived, type: "counter", labels: "outcome",
               help: "Webhooks by what became of them: stored, duplicate or dead_letter once applied; bad_signature (401/429), too_large (413) or refused (5xx) when answered."),
        Metric(name: MetricNames.webhookAck, type: "histogram", labels: "",
               help: "Seconds from a signed webhook's last byte to its 200 (the journal commit between)."),
        Metric(name: MetricNames.journalCommitBatch, type: "histogram", labels: "",
               help: "Webhooks per journal transaction (group commit)."),
        Metric(name: MetricNames.journalCommit, type: "histogram", labels: "",
               help: "Seconds one journal transaction took."),
        Metric(name: Names.applierLag, type: "gauge", labels: "",
               help: "Webhooks acknowledged (journaled) but not yet applied to the inbox."),
        Metric(name: Names.applierLagSeconds, type: "gauge", labels: "",
               help: "Age of the oldest webhook not yet applied, in seconds (0 when none waits)."),
        Metric(name: CloudMetricNames.sends, type: "counter", labels: "outcome, code",
               help: "Send attempts by outcome (accepted, retry, failed, window_closed, halted, uncertain) and Cloud API error code (none without one)."),
        Metric(name: Names.outboxDepth, type: "gauge", labels: "state",
               help: "Outbox rows by state: queued, in_flight, uncertain (waiting for the operator)."),
        Metric(name: Names.sendingHalted, type: "gauge", labels: "",
               help: "1 while sending is halted (token refused, account restricted) until the operator acts, else 0."),
        Metric(name: CloudMetricNames.mediaDownloads, type: "counter", labels: "outcome",
               help: "Media download attempts by outcome: ready, retry, failed, expired."),
        Metric(name: Names.screens, type: "gauge", labels: "",
               help: "Agents with a screen open on this database (seen in the last 90 seconds)."),
        Metric(name: Names.databaseUp, type: "gauge", labels: "",
               help: "1 when the last scrape could read the database, else 0."),
        Metric(name: "process_resident_memory_bytes", type: "gauge", labels: "", help: "Resident memory size in bytes."),
        Metric(name: "process_virtual_memory_bytes", type: "gauge", labels: "", help: "Virtual memory size in bytes."),
        Metric(name: "process_cpu_seconds_total", type: "counter", labels: "", help: "User and system CPU time spent, in seconds."),
        Metric(name: "process_open_fds", type: "gauge", labels: "", help: "Open file descriptors."),
        Metric(name: "process_max_fds", type: "gauge", labels: "", help: "The limit on open file descriptors."),
        Metric(name: "process_start_time_seconds", type: "gauge", labels: "", help: "Start time of the process, in Unix seconds."),
    ]

    enum Names {
        static let applierLag = "wabox_applier_lag"
        static let applierLagSeconds = "wabox_applier_lag_seconds"
        static let outboxDepth = "wabox_outbox_depth"
        static let sendingHalted = "wabox_sending_halted"
        static let screens = "wabox_screens_attached"
        static let databaseUp = "wabox_database_up"
    }

    /// A screen counts while it said it is open within this many seconds.
    static let screenWindow: Int64 = 3 * StatusPoller.screenHeartbeatSeconds

    private let registry: PrometheusCollectorRegistry
    private let applierLag: Metrics.Gauge
    private let applierLagSeconds: Metrics.Gauge
    private let outbox: [String: Metrics.Gauge]
    private let sendingHalted: Metrics.Gauge
    private let screens: Metrics.Gauge
    private let databaseUp: Metrics.Gauge
    private let help: [String: String]

    /// Bootstraps swift-metrics with a Prometheus registry. Once per process, before
    /// anything makes a metric (a metric made before is a no-op for good): `wabox serve`
    /// calls it first.
    public static func bootstrap() -> Telemetry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let latencies: [Duration] = [.microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5),
                                     .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                     .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
                                     .seconds(5)]
        factory.durationHistogramBuckets = [MetricNames.webhookAck: latencies, MetricNames.journalCommit: latencies]
        factory.valueHistogramBuckets = [MetricNames.journalCommitBatch: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]]
        MetricsSystem.bootstrap(factory)
        return Telemetry(registry: registry)
    }

    private init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        applierLag = Metrics.Gauge(label: Names.applierLag)
        applierLagSeconds = Metrics.Gauge(label: Names.applierLagSeconds)
        outbox = Dictionary(uniqueKeysWithValues: OperationalFigures.outboxStates.map {
            ($0, Metrics.Gauge(label: Names.outboxDepth, dimensions: [("state", $0)]))
        })
        sendingHalted = Metrics.Gauge(label: Names.sendingHalted)
        screens = Metrics.Gauge(label: Names.screens)
        databaseUp = Metrics.Gauge(label: Names.databaseUp)
        help = Dictionary(uniqueKeysWithValues: Self.catalogue.map { ($0.name, $0.help) })
    }

    /// The endpoint that serves these metrics, reading `database` at each scrape.
    func endpoint(database: InboxDatabase) -> MetricsEndpoint {
        MetricsEndpoint { await self.render(database: database) }
    }

    /// The endpoint of a listener on a shared store (PostgreSQL): the journal's lag when the
    /// store applies it, whether the database answers, and the process's own figures; the
    /// outbox and screen gauges stay at zero there for now.
    func endpoint(sharedStore store: any JournalStore) -> MetricsEndpoint {
        MetricsEndpoint { await self.render(sharedStore: store) }
    }

    func render(sharedStore store: any JournalStore, now: Int64 = Int64(Date().timeIntervalSince1970)) async -> String {
        do {
            if let applying = store as? any ApplyingStore {
                let progress = try await applying.journalProgressNow()
                applierLag.record(progress.lag)
                applierLagSeconds.record(progress.oldestWaitingReceivedAt.map { max(0, now - $0) } ?? 0)
            } else {
                _ = try await store.journalAppliedThrough()
            }
            databaseUp.record(1)
        } catch {
            databaseUp.record(0)
        }
        var text = Self.sortedWithHelp(registry.emitToString(), help: help)
        if let process = ProcessFigures.read() { text += process.exposition(help: help) }
        return text
    }

    /// The Prometheus text format: the registry, then the process's figures.
    func render(database: InboxDatabase, now: Int64 = Int64(Date().timeIntervalSince1970)) async -> String {
        if let figures = try? await database.operationalFigures(screensSeenSince: now - Self.screenWindow) {
            databaseUp.record(1)
            applierLag.record(figures.journal.lag)
            applierLagSeconds.record(figures.journal.oldestWaitingReceivedAt.map { max(0, now - $0) } ?? 0)
            for (state, gauge) in outbox { gauge.record(figures.outbox[state] ?? 0) }
            sendingHalted.record(figures.sendingHalted ? 1 : 0)
            screens.record(figures.screens)
        } else {
            databaseUp.record(0)
        }
        var text = Self.sortedWithHelp(registry.emitToString(), help: help)
        if let process = ProcessFigures.read() { text += process.exposition(help: help) }
        return text
    }

    /// The registry's families in name order (it emits them in hash order), each with its
    /// `# HELP` line; the samples of a counter or gauge in label order, a histogram's as they are.
    static func sortedWithHelp(_ exposition: String, help: [String: String]) -> String {
        var families: [(name: Substring, type: Substring, samples: [Substring])] = []
        for line in exposition.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                families.append((parts.first ?? "", parts.last ?? "", []))
            } else if !line.hasPrefix("#"), !families.isEmpty {
                families[families.count - 1].samples.append(line)
            }
        }
        var text = ""
        for family in families.sorted(by: { $0.name < $1.name }) {
            if let help = help[String(family.name)] { text += "# HELP \(family.name) \(help)\n" }
            text += "# TYPE \(family.name) \(family.type)\n"
            for sample in family.type == "histogram" ? family.samples : family.samples.sorted() { text += sample + "\n" }
        }
        return text
    }
}

/// The process's own figures, from `/proc/self` (Linux), named as Prometheus's client
/// libraries name them.
struct ProcessFigures: Equatable {
    var residentBytes: Int64
    var virtualBytes: Int64
    var cpuSeconds: Double
    var startTime: Double
    var openFDs: Int
    var maxFDs: Int

    static func read() -> ProcessFigures? {
        #if os(Linux)
        guard let stat = try? String(decoding: FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/stat")).readToEnd() ?? Data(), as: UTF8.self),
              let system = try? String(decoding: FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/stat")).readToEnd() ?? Data(), as: UTF8.self),
              let bootLine = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = Int64(bootLine.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return parse(stat: stat, bootTime: bootTime, ticksPerSecond: sysconf(Int32(_SC_CLK_TCK)),
                     pageSize: sysconf(Int32(_SC_PAGESIZE)), openFDs: max(0, fds - 1), maxFDs: Int(limit.rlim_cur))
        #else
        return nil
        #endif
    }

    /// Reads `/proc/self/stat`: the fields after the command name, which may hold spaces
    /// and parentheses, so the split is after the last `)`.
    static func parse(stat: String, bootTime: Int64, ticksPerSecond: Int, pageSize: Int, openFDs: Int,
                      maxFDs: Int) -> ProcessFigures? {
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        // Field 3 (state) is index 0 here: utime is field 14, stime 15, starttime 22,
        // vsize 23, rss 24 (in pages).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 21, let utime = Double(fields[11]), let stime = Double(fields[12]),
              let start = Double(fields[19]), let virtual = Int64(fields[20]), let rss = Int64(fields[21]) else { return nil }
        let ticks = Double(ticksPerSecond)
        return ProcessFigures(residentBytes: rss * Int64(pageSize), virtualBytes: virtual,
                              cpuSeconds: (utime + stime) / ticks, startTime: Double(bootTime) + start / ticks,
                              openFDs: openFDs, maxFDs: maxFDs)
    }

    func exposition(help: [String: String]) -> String {
        let values: [(String, String, String)] = [
            ("process_resident_memory_bytes", "gauge", "\(residentBytes)"),
            ("process_virtual_memory_bytes", "gauge", "\(virtualBytes)"),
            ("process_cpu_seconds_total", "counter", "\(cpuSeconds)"),
            ("process_open_fds", "gauge", "\(openFDs)"),
            ("process_max_fds", "gauge", "\(maxFDs)"),
            ("process_start_time_seconds", "gauge", "\(startTime)"),
        ]
        return values.map { name, type, value in
            (help[name].map { "# HELP \(name) \($0)\n" } ?? "") + "# TYPE \(name) \(type)\n\(name) \(value)\n"
        }.joined()
    }
}
