import NIOCore
import Synchronization

/// Token buckets per client address for requests that failed authentication (a missing or
/// bad signature): each address may send `burst` of them at once and `perSecond` after
/// that; beyond, the listener answers 429 instead of 401.
///
/// Only failures spend tokens, and a request is judged only after its signature was
/// checked, so signed webhooks are never refused or slowed, even from an address that also
/// sends bad ones. The table is bounded: when it holds `capacity` addresses, buckets that
/// have filled up again are dropped, and if none has, new addresses share one overflow
/// bucket (a flood from many addresses is then limited as one client).
struct TokenBuckets {
    struct Configuration: Sendable {
        /// Failed requests an address may send at once.
        var burst: Double
        /// Failed requests an address may send per second, once the burst is spent.
        var perSecond: Double
        /// Addresses tracked at most.
        var capacity: Int

        init(burst: Double = 20, perSecond: Double = 2, capacity: Int = 10_000) {
            precondition(burst >= 1 && perSecond > 0 && capacity > 0, "a rate limit needs a burst of at least 1, a positive rate and room for one address")
            self.burst = burst
            self.perSecond = perSecond
            self.capacity = capacity
        }
    }

    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    let configuration: Configuration
    private var buckets: [String: Bucket] = [:]
    private var overflow: Bucket?

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    var trackedAddresses: Int { buckets.count }

    /// Spends a token of `address` at `now` (seconds on a monotonic clock); false when
    /// the address has none left.
    mutating func take(address: String, now: Double) -> Bool {
        if var bucket = buckets[address] {
            let allowed = spend(&bucket, now: now)
            buckets[address] = bucket
            return allowed
        }
        if buckets.count >= configuration.capacity {
            dropRefilled(now: now)
        }
        if buckets.count >= configuration.capacity {
            var bucket = overflow ?? Bucket(tokens: configuration.burst, updated: now)
            let allowed = spend(&bucket, now: now)
            overflow = bucket
            return allowed
        }
        var bucket = Bucket(tokens: configuration.burst, updated: now)
        let allowed = spend(&bucket, now: now)
        buckets[address] = bucket
        return allowed
    }

    private func spend(_ bucket: inout Bucket, now: Double) -> Bool {
        let elapsed = max(0, now - bucket.updated)
        bucket.tokens = min(configuration.burst, bucket.tokens + elapsed * configuration.perSecond)
        bucket.updated = now
        guard bucket.tokens >= 1 else { return false }
        bucket.tokens -= 1
        return true
    }

    /// Forgets addresses whose bucket is full again: they are indistinguishable from new ones.
    private mutating func dropRefilled(now: Double) {
        let burst = configuration.burst, rate = configuration.perSecond
        buckets = buckets.filter { _, bucket in bucket.tokens + (now - bucket.updated) * rate < burst }
        if let bucket = overflow, bucket.tokens + (now - bucket.updated) * rate >= burst { overflow = nil }
    }
}

/// `TokenBuckets` shared by every connection of the listener.
final class UnauthenticatedLimiter: Sendable {
    private let buckets: Mutex<TokenBuckets>
    private let clock: @Sendable () -> Double

    init(configuration: TokenBuckets.Configuration,
         clock: @escaping @Sendable () -> Double = { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }) {
        buckets = Mutex(TokenBuckets(configuration: configuration))
        self.clock = clock
    }

    /// Whether another failed request from `address` may be answered 401 (else 429).
    func allow(_ address: String) -> Bool {
        let now = clock()
        return buckets.withLock { $0.take(address: address, now: now) }
    }

    /// The key for a peer: its IP address; an IPv6 address by its /64, which one client
    /// usually holds whole.
    static func key(for address: SocketAddress?) -> String {
        switch address {
        case .v4:
            return address?.ipAddress ?? "unknown"
        case .v6:
            guard let ip = address?.ipAddress else { return "unknown" }
            // An IPv4 client of a dual-stack socket.
            if ip.lowercased().hasPrefix("::ffff:"), ip.contains(".") { return String(ip.dropFirst(7)) }
            // Keep the first four groups of the expanded form.
            let groups = Self.expandIPv6(ip)
            return groups.prefix(4).joined(separator: ":") + "::/64"
        default:
            return "unix"
        }
    }

    static func expandIPv6(_ text: String) -> [String] {
        let parts = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        let head = parts.first.map { $0.split(separator: ":").map(String.init) } ?? []
        let tail = parts.count > 1 ? parts[1].split(separator: ":").map(String.init) : []
        let missing = max(0, 8 - head.count - tail.count)
        return head + Array(repeating: "0", count: parts.count > 1 ? missing : 0) + tail
    }
}
