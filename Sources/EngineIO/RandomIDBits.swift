#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random bits for session and socket ids, drawn from the kernel's CSPRNG 256 bytes at a time: one `getentropy`
/// (`getrandom`) per 16 ids instead of two per id (`SystemRandomNumberGenerator` makes a syscall for every 8 bytes
/// on Linux).
/// Elsewhere `SystemRandomNumberGenerator` is used directly (Darwin's `arc4random_buf` makes no syscall).
///
/// Lock-protected.
enum RandomIDBits {
    /// 128 random bits.
    static func next() -> (UInt64, UInt64) {
        #if canImport(Glibc)
        pool.withLock { $0.next() }
        #else
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
        #endif
    }

    #if canImport(Glibc)
    private static let pool = Mutex(Pool())

    struct Pool: ~Copyable {
        /// `getentropy`'s most, which it always delivers whole.
        static let size = 256
        private let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: Pool.size, alignment: 8)
        private var offset = Pool.size

        mutating func next() -> (UInt64, UInt64) {
            if offset == Pool.size { refill() }
            defer { offset += 16 }
            return (bytes.load(fromByteOffset: offset, as: UInt64.self), bytes.load(fromByteOffset: offset + 8, as: UInt64.self))
        }

        private mutating func refill() {
            if getentropy(bytes.baseAddress, Pool.size) != 0 {
                // No getrandom (an old kernel): the standard library's generator, which has its own fallbacks.
                var generator = SystemRandomNumberGenerator()
                for offset in stride(from: 0, to: Pool.size, by: 8) {
                    bytes.storeBytes(of: generator.next() as UInt64, toByteOffset: offset, as: UInt64.self)
                }
            }
            offset = 0
        }

        deinit { bytes.deallocate() }
    }
    #endif
}
