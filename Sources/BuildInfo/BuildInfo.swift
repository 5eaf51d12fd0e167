/// What `wabox --version` prints: the version (the one source of it: scripts/package and
/// the Debian package's version take it from there) and the commit the binary was built
/// from, which the BuildCommit plugin writes before every build.
public enum BuildInfo {
    public static let version = "0.1.0"
    /// The short commit hash, or "unknown" when the build had no git checkout.
    public static let commit = buildCommit
    /// `wabox 0.1.0 (commit abc1234)`.
    public static var versionLine: String { "wabox \(version) (commit \(commit))" }
}
