import Foundation

/// A scrape in the Prometheus text exposition format (0.0.4), parsed strictly enough that
/// a malformed exposition fails the test: names and labels as the format allows them,
/// one `# TYPE` per family before its samples, no sample twice, histograms whose buckets
/// grow, end in `+Inf` and agree with `_count`.
public struct PrometheusScrape: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    public private(set) var samples: [Sample] = []
    /// Family name → `counter`, `gauge`, `histogram`, `summary` or `untyped`.
    public private(set) var types: [String: String] = [:]
    public private(set) var help: [String: String] = [:]

    public init(parsing text: String) throws {
        var seen = Set<String>()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            func fail(_ what: String) -> Malformed { Malformed(description: "line \(number): \(what): \(line)") }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
                guard parts.count >= 3, parts[1] == "TYPE" || parts[1] == "HELP" else { continue }  // a comment
                let name = String(parts[2])
                guard Self.isMetricName(name) else { throw fail("bad metric name in \(parts[1])") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw fail("unknown type")
                    }
                    guard types[name] == nil else { throw fail("second TYPE for \(name)") }
                    guard !samples.contains(where: { Self.family(of: $0.name, in: [name: ""]) == name }) else {
                        throw fail("TYPE after samples of \(name)")
                    }
                    types[name] = String(parts[3])
                } else {
                    guard help[name] == nil else { throw fail("second HELP for \(name)") }
                    help[name] = parts.count == 4 ? String(parts[3]) : ""
                }
                continue
            }
            let sample = try Self.sample(line, fail: fail)
            let key = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            guard seen.insert(key).inserted else { throw fail("sample repeated") }
            samples.append(sample)
        }
        try checkHistograms()
    }

    /// The value of the sample `name` with exactly `labels`.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The samples of `name`, whatever their labels.
    public func all(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    // MARK: - Parsing

    static func isMetricName(_ name: some StringProtocol) -> Bool {
        func letter(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
        }
        guard let first = name.utf8.first, letter(first) else { return false }
        return name.utf8.allSatisfy { letter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    static func isLabelName(_ name: some StringProtocol) -> Bool {
        isMetricName(name) && !name.contains(":")
    }

    private static func sample(_ line: Substring, fail: (String) -> Malformed) throws -> Sample {
        var rest = line[...]
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard isMetricName(name) else { throw fail("bad metric name") }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { throw fail("label without =") }
                let label = String(rest[..<equals])
                guard isLabelName(label), labels[label] == nil else { throw fail("bad or repeated label \(label)") }
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { throw fail("label value not quoted") }
                rest = rest.dropFirst()
                var value = ""
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\"" { closed = true; break }
                    if character == "\\" {
                        guard let escaped = rest.first else { break }
                        rest = rest.dropFirst()
                        switch escaped {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw fail("bad escape \\\(escaped)")
                        }
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw fail("label value not closed") }
                labels[label] = value
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw fail("expected , or }") }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw fail("no space before the value") }
        let fields = rest.split(separator: " ")
        guard fields.count == 1 || fields.count == 2, let value = parseValue(fields[0]) else { throw fail("bad value") }
        if fields.count == 2, Int64(fields[1]) == nil { throw fail("bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    private static func parseValue(_ text: Substring) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    /// The family a sample belongs to: its name, or the histogram's name for `_bucket`,
    /// `_sum` and `_count`.
    static func family(of name: String, in types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] != nil { return base }
        }
        return name
    }

    private func checkHistograms() throws {
        for (name, type) in types where type == "histogram" {
            var series: [[String: String]: [(le: Double, count: Double)]] = [:]
            for sample in all(name + "_bucket") {
                var labels = sample.labels
                guard let le = labels.removeValue(forKey: "le").flatMap({ Self.parseValue($0[...]) }) else {
                    throw Malformed(description: "\(name)_bucket without a numeric le label")
                }
                series[labels, default: []].append((le, sample.value))
            }
            for (labels, buckets) in series {
                let sorted = buckets.sorted { $0.le < $1.le }
                guard sorted.last?.le == .infinity else { throw Malformed(description: "\(name) \(labels) has no +Inf bucket") }
                for (lower, upper) in zip(sorted, sorted.dropFirst()) where upper.count < lower.count {
                    throw Malformed(description: "\(name) \(labels): bucket le=\(upper.le) counts fewer than le=\(lower.le)")
                }
                guard let count = value(name + "_count", labels), count == sorted.last?.count, value(name + "_sum", labels) != nil else {
                    throw Malformed(description: "\(name) \(labels): _count or _sum missing, or _count differs from the +Inf bucket")
                }
            }
        }
    }
}
