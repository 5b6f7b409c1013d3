/// The tag the kernel gives a program (`bpftool prog show` prints it): the first 8 bytes of a
/// digest of its instructions as loaded, with map fds and map-value offsets in `ld_imm64` pairs
/// zeroed, since those differ from load to load. Lets `status` tell a stale pin from a current
/// one without loading anything. Kernels before 6.18 digest with SHA-1 (`of`); 6.18 and later
/// with SHA-256 (`hashedBytes` is what a caller hashes for that).
public enum ProgramTag {
    /// The tag as a SHA-1 kernel computes it.
    public static func of(_ code: [Instruction]) -> String {
        hex(SHA1.digest(hashedBytes(code)))
    }

    /// The bytes the kernel digests: the instructions with map fds and value offsets zeroed.
    public static func hashedBytes(_ code: [Instruction]) -> [UInt8] {
        var insns = code
        var i = 0
        while i < insns.count {
            if insns[i].isLoadImm64 && (insns[i].src == Instruction.pseudoMapFD || insns[i].src == Instruction.pseudoMapValue) {
                insns[i].immediate = 0
                if i + 1 < insns.count, insns[i + 1].opcode == 0, insns[i + 1].registers == 0, insns[i + 1].offset == 0 {
                    insns[i + 1].immediate = 0
                    i += 1
                }
            }
            i += 1
        }
        return insns.withUnsafeBytes { Array($0) }
    }

    /// A tag as the kernel prints it: the digest's first 8 bytes in hex.
    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.prefix(8).map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}

/// SHA-1, only for reproducing the kernel's program tag.
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        var data = message
        let bitLength = UInt64(message.count) * 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + 4 * i
                w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = (x << 1) | (x >> 31)
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A827999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1BBCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62C1D6)
                }
                let t = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, (b << 30) | (b >> 2), a, t)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    }
}
