import Foundation
import NIOCore
import NIOPosix

/// A bare TCP connection that speaks HTTP/1.1 by hand, for what a well-behaved client
/// never sends: floods of headers, trickled bytes, pipelined bursts, garbage.
struct RawConnection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func open(port: Int) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawConnection(channel: channel)
    }

    /// One answer: the status and the body.
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// Runs `body` with a writer and a reader of answers, then closes the connection.
    func use<T: Sendable>(_ body: (Writer, inout Reader) async throws -> T) async throws -> T {
        try await channel.executeThenClose { inbound, outbound in
            var reader = Reader(iterator: inbound.makeAsyncIterator())
            return try await body(Writer(outbound: outbound), &reader)
        }
    }

    struct Writer {
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

        func send(_ bytes: [UInt8]) async throws { try await outbound.write(ByteBuffer(bytes: bytes)) }
        func send(_ text: String) async throws { try await outbound.write(ByteBuffer(string: text)) }
    }

    struct Reader {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var pending = ByteBuffer()
        /// Whether the server closed the connection.
        var closed = false

        /// Reads more bytes; false once the server closed.
        private mutating func fill() async throws -> Bool {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch let error as IOError where error.errnoCode == ECONNRESET {
                // Closed while the client still had bytes in flight: a reset, still a close.
                next = nil
            }
            guard var chunk = next else {
                closed = true
                return false
            }
            pending.writeBuffer(&chunk)
            return true
        }

        /// The next answer, or nil when the connection closed first.
        mutating func answer() async throws -> Answer? {
            while true {
                let view = pending.readableBytesView
                if let end = view.firstRange(of: Array("\r\n\r\n".utf8)) {
                    let headLength = view.distance(from: view.startIndex, to: end.upperBound)
                    let head = String(decoding: view.prefix(headLength), as: UTF8.self)
                    let lines = head.components(separatedBy: "\r\n")
                    let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? -1
                    var headers: [String: String] = [:]
                    for line in lines.dropFirst() {
                        guard let colon = line.firstIndex(of: ":") else { continue }
                        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    }
                    let length = Int(headers["content-length"] ?? "0") ?? 0
                    while pending.readableBytes < headLength + length {
                        guard try await fill() else { return nil }
                    }
                    pending.moveReaderIndex(forwardBy: headLength)
                    let body = pending.readString(length: length) ?? ""
                    pending.discardReadBytes()
                    return Answer(status: status, headers: headers, body: body)
                }
                guard try await fill() else { return nil }
            }
        }

        /// Waits until the server closes the connection, skipping anything it sends.
        mutating func waitForClose() async throws {
            while try await fill() { pending.clear() }
        }
    }
}

/// A request as bytes.
func rawRequest(_ method: String = "POST", path: String = "/webhook", headers: [(String, String)] = [],
                body: [UInt8] = [], contentLength: Int? = nil) -> [UInt8] {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if method == "POST" || !body.isEmpty { head += "Content-Length: \(contentLength ?? body.count)\r\n" }
    head += "\r\n"
    return Array(head.utf8) + body
}
