// Binary arguments are `ByteBuffer`s (`JSONValue.binary`): users of the Socket.IO products get the type with them.
@_exported import struct NIOCore.ByteBuffer
