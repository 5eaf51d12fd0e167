import Testing
@testable import WebhookServer

/// The per-address limit of failed requests, on a clock the test drives.
@Suite struct TokenBucketTests {
    @Test func burstThenRateThenRefill() {
        var buckets = TokenBuckets(configuration: .init(burst: 3, perSecond: 2, capacity: 100))
        var answers: [Bool] = []
        for _ in 0..<5 { answers.append(buckets.take(address: "a", now: 0)) }
        answers.append(buckets.take(address: "b", now: 0))  // another address has its own bucket
        answers.append(buckets.take(address: "a", now: 0.5))  // one token after half a second at 2/s
        answers.append(buckets.take(address: "a", now: 0.6))
        for _ in 0..<4 { answers.append(buckets.take(address: "a", now: 100)) }  // refilled, capped at the burst
        #expect(answers == [true, true, true, false, false, true, true, false, true, true, true, false])
    }

    @Test func tableStaysBoundedUnderAFloodOfAddresses() {
        var buckets = TokenBuckets(configuration: .init(burst: 2, perSecond: 1, capacity: 100))
        var allowed = 0
        for index in 0..<100_000 where buckets.take(address: "10.0.\(index / 256).\(index % 256)", now: 0) {
            allowed += 1
        }
        #expect(buckets.trackedAddresses == 100)
        // 100 addresses with their own burst, then every newcomer shares one overflow bucket.
        // One each for the 100 tracked addresses, then the overflow bucket's burst of 2.
        #expect(allowed == 100 + 2)
        // Once buckets refill they are forgotten, making room for new addresses.
        let later = buckets.take(address: "192.0.2.1", now: 10)
        #expect(later)
        #expect(buckets.trackedAddresses == 1)
    }

    @Test func addressesAreKeyedByHostAndIPv6By64() throws {
        #expect(UnauthenticatedLimiter.expandIPv6("2001:db8::1") == ["2001", "db8", "0", "0", "0", "0", "0", "1"])
        #expect(UnauthenticatedLimiter.key(for: try .init(ipAddress: "2001:db8:1:2:aaaa::1", port: 1)) == "2001:db8:1:2::/64")
        #expect(UnauthenticatedLimiter.key(for: try .init(ipAddress: "2001:db8:1:2:bbbb::9", port: 2)) == "2001:db8:1:2::/64")
        #expect(UnauthenticatedLimiter.key(for: try .init(ipAddress: "203.0.113.7", port: 3)) == "203.0.113.7")
        #expect(UnauthenticatedLimiter.key(for: try .init(ipAddress: "::ffff:203.0.113.7", port: 4)) == "203.0.113.7")
    }
}
