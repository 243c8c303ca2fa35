import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Completes a TLS handshake with a server and reports the certificate it presented, for tests that check which
/// certificate a listener serves (a reload). Each probe is one connection, confined to its event loop.
public enum TLSProbe {
    /// The serial number (lowercase hex) of the certificate `host:port` presents, verified against `caFile`;
    /// throws when the handshake fails.
    public static func servedSerial(host: String = "127.0.0.1", port: Int, caFile: String) async throws -> String {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        let context = try NIOSSLContext(configuration: tls)
        let done = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: String.self)
        let channel = try await ClientBootstrap(group: done.futureResult.eventLoop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let client = try NIOSSLClientHandler(context: context, serverHostname: nil)
                    try channel.pipeline.syncOperations.addHandlers(client, HandshakeObserver(client: client, done: done))
                }
            }
            .connect(host: host, port: port).get()
        defer { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in done.fail(ChannelError.eof) }
        return try await done.futureResult.get()
    }

    /// Hex of a certificate's serial number, as `openssl x509 -serial` prints it (lowercased).
    public static func hex(_ serial: [UInt8]) -> String {
        serial.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    private final class HandshakeObserver: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let client: NIOSSLClientHandler
        let done: EventLoopPromise<String>

        init(client: NIOSSLClientHandler, done: EventLoopPromise<String>) {
            self.client = client
            self.done = done
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event {
                if let certificate = client.peerCertificate {
                    done.succeed(TLSProbe.hex(certificate.serialNumber))
                } else {
                    done.fail(ChannelError.eof)
                }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.fail(error)
            context.close(promise: nil)
        }
    }
}
