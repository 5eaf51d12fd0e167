extension Duration {
    /// The duration in whole milliseconds (what lease rows and SQL intervals store).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
