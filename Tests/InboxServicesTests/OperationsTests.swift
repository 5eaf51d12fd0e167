import Foundation
@testable import InboxServices
import InboxTesting
import Testing

/// The metrics' catalogue against what documents and uses it (docs/operations.md's table, the Grafana
/// dashboard, the alert rules), the process figures read from `/proc`, and the test
/// support's parser of the Prometheus text format.
@Suite struct OperationsTests {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The metric names a text mentions, histogram suffixes taken off.
    private static func metricNames(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"\b(?:wabox|process)_[a-z_]+"#)
        let names = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
            String(text[Range($0.range, in: text)!])
        }
        return Set(names.map { name in
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                let base = String(name.dropLast(suffix.count))
                if Telemetry.catalogue.contains(where: { $0.name == base }) { return base }
            }
            return name
        })
    }

    @Test func everyMetricIsInTheOperationsDocAndEveryNameUsedExists() throws {
        let document = try Self.text("docs/operations.md")
        let operations = document[try #require(document.range(of: "## Metrics")).lowerBound...]
        let known = Set(Telemetry.catalogue.map(\.name))
        for metric in Telemetry.catalogue {
            #expect(operations.contains("`\(metric.name)`"), "docs/operations.md's Metrics table lacks \(metric.name)")
        }
        for file in ["contrib/grafana/wabox.json", "contrib/prometheus/alerts.yml"] {
            let used = Self.metricNames(in: try Self.text(file))
            #expect(!used.isEmpty, "\(file) uses no metric")
            #expect(used.subtracting(known).isEmpty, "\(file) uses metrics wabox does not export: \(used.subtracting(known).sorted())")
        }
        let dashboard = try JSONSerialization.jsonObject(with: Data(try Self.text("contrib/grafana/wabox.json").utf8)) as? [String: Any]
        #expect((dashboard?["panels"] as? [Any])?.isEmpty == false)
    }

    @Test func theRegistrysFamiliesComeSortedWithTheirHelp() throws {
        let emitted = """
            # TYPE wabox_z_total counter
            wabox_z_total{outcome="b"} 2
            wabox_z_total{outcome="a"} 1
            # TYPE wabox_h_seconds histogram
            wabox_h_seconds_bucket{le="0.5"} 1
            wabox_h_seconds_bucket{le="+Inf"} 1
            wabox_h_seconds_sum 0.2
            wabox_h_seconds_count 1

            """
        let text = Telemetry.sortedWithHelp(emitted, help: ["wabox_z_total": "Zs."])
        #expect(text == """
            # TYPE wabox_h_seconds histogram
            wabox_h_seconds_bucket{le="0.5"} 1
            wabox_h_seconds_bucket{le="+Inf"} 1
            wabox_h_seconds_sum 0.2
            wabox_h_seconds_count 1
            # HELP wabox_z_total Zs.
            # TYPE wabox_z_total counter
            wabox_z_total{outcome="a"} 1
            wabox_z_total{outcome="b"} 2

            """)
        _ = try PrometheusScrape(parsing: text)
    }

    @Test func processFiguresComeFromProcSelfStat() throws {
        // A command name with a space and a parenthesis, as the kernel prints it.
        let stat = "4242 (wabox (x) y) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 75 0 0 20 0 7 0 "
            + "123456 987654321 5000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0"
        let figures = try #require(ProcessFigures.parse(stat: stat, bootTime: 1_700_000_000, ticksPerSecond: 100,
                                                        pageSize: 4096, openFDs: 9, maxFDs: 1024))
        #expect(figures.residentBytes == 5000 * 4096)
        #expect(figures.virtualBytes == 987_654_321)
        #expect(figures.cpuSeconds == 3.25)
        #expect(abs(figures.startTime - 1_700_001_234.56) < 0.001)
        #expect(figures.openFDs == 9 && figures.maxFDs == 1024)
        #expect(ProcessFigures.parse(stat: "4242 (wabox) S 1", bootTime: 0, ticksPerSecond: 100, pageSize: 4096,
                                     openFDs: 0, maxFDs: 0) == nil)

        let live = try #require(ProcessFigures.read(), "could not read /proc/self")
        #expect(live.residentBytes > 0 && live.openFDs >= 3 && live.maxFDs >= live.openFDs)
        #expect(abs(live.startTime - Date().timeIntervalSince1970) < 24 * 3600)
        let scrape = try PrometheusScrape(parsing: live.exposition(help: ["process_open_fds": "Open file descriptors."]))
        #expect(scrape.types["process_cpu_seconds_total"] == "counter")
        #expect(scrape.help["process_open_fds"] == "Open file descriptors.")
        #expect(scrape.value("process_open_fds") == Double(live.openFDs))
    }

    @Test func theParserReadsTheTextFormatAndRefusesMalformedOnes() throws {
        let good = """
            # HELP requests_total Requests.
            # TYPE requests_total counter
            requests_total{outcome="ok",path="/a\\"b\\\\c\\n"} 3
            requests_total{outcome="bad"} 1 1700000000000
            # TYPE latency_seconds histogram
            latency_seconds_bucket{le="0.1"} 1
            latency_seconds_bucket{le="1.0"} 2
            latency_seconds_bucket{le="+Inf"} 2
            latency_seconds_sum 0.6
            latency_seconds_count 2
            # a comment
            up NaN

            """
        let scrape = try PrometheusScrape(parsing: good)
        #expect(scrape.value("requests_total", ["outcome": "ok", "path": "/a\"b\\c\n"]) == 3)
        #expect(scrape.value("requests_total", ["outcome": "bad"]) == 1)
        #expect(scrape.value("latency_seconds_count") == 2)
        #expect(scrape.types == ["requests_total": "counter", "latency_seconds": "histogram"])
        #expect(scrape.value("up")?.isNaN == true)

        for bad in [
            "requests_total{outcome=ok} 1",                 // unquoted value
            "requests_total{outcome=\"ok\"} one",           // not a number
            "9lives 1",                                     // a name cannot start with a digit
            "a 1\na 1",                                     // the same sample twice
            "# TYPE a counter\n# TYPE a gauge",             // two types
            "a 1\n# TYPE a counter",                        // type after samples
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1",  // buckets shrink
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1",                           // no +Inf
        ] {
            #expect(throws: PrometheusScrape.Malformed.self, "accepted: \(bad)") { try PrometheusScrape(parsing: bad) }
        }
    }
}
