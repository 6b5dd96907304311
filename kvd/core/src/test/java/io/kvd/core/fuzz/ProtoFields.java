package io.kvd.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Mutates a protobuf message at the level of its fields, whatever its type: a message from the
 * node (a Gossip, a Replica, a KVRequest...) keeps its shape but gets one field changed, removed,
 * repeated or added, so that the node's handling of nearly valid internal messages is exercised
 * (random bytes rarely parse as one).
 */
final class ProtoFields {
  private ProtoFields() {}

  /** Mutation kinds, as {@link #mutate} consumes them. */
  static final int SET_NUMBER = 0;
  static final int SET_BYTES = 1;
  static final int FLIP_BYTE = 2;
  static final int REMOVE = 3;
  static final int REPEAT = 4;
  static final int ADD = 5;
  static final int KINDS = 6;

  /** One field on the wire: its number, wire type and value. */
  private static final class Field {
    final int number;
    final int wireType;
    long number64;
    byte[] bytes;

    Field(int number, int wireType) {
      this.number = number;
      this.wireType = wireType;
    }
  }

  /**
   * {@code message} with one field mutated as {@code data} says, or null when it does not parse
   * as a sequence of fields (groups included).
   */
  static byte[] mutate(byte[] message, FuzzedDataProvider data) {
    List<Field> fields = parse(message);
    if (fields == null) {
      return null;
    }
    int kind = data.consumeInt(0, KINDS - 1);
    if (fields.isEmpty() && kind != ADD) {
      kind = ADD;
    }
    int at = fields.isEmpty() ? 0 : pick(data, fields.size());
    switch (kind) {
      case SET_NUMBER: {
        Field f = fields.get(at);
        if (f.wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          f.bytes = data.consumeBytes(data.consumeInt(0, 64));
        } else {
          f.number64 = data.consumeBoolean() ? data.consumeLong(0, 300) : data.consumeLong();
        }
        break;
      }
      case SET_BYTES: {
        Field f = fields.get(at);
        if (f.wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
          f.bytes = data.consumeBytes(data.consumeInt(0, 64));
        } else {
          f.number64 = f.number64 + data.consumeInt(-2, 2);
        }
        break;
      }
      case FLIP_BYTE: {
        Field f = fields.get(at);
        if (f.wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED && f.bytes.length > 0) {
          f.bytes = f.bytes.clone();
          f.bytes[pick(data, f.bytes.length)] ^= (byte) data.consumeInt(1, 255);
        } else {
          f.number64 ^= 1L << data.consumeInt(0, 63);
        }
        break;
      }
      case REMOVE:
        fields.remove(at);
        break;
      case REPEAT:
        fields.add(pick(data, fields.size() + 1), fields.get(at));
        break;
      default: {
        int number = data.consumeInt(1, 24);
        int type = data.consumeInt(0, 2);
        Field f = new Field(number, type == 0 ? WireFormat.WIRETYPE_VARINT
            : type == 1 ? WireFormat.WIRETYPE_FIXED64 : WireFormat.WIRETYPE_LENGTH_DELIMITED);
        if (type == 2) {
          f.bytes = data.consumeBytes(data.consumeInt(0, 64));
        } else {
          f.number64 = data.consumeBoolean() ? data.consumeLong(0, 300) : data.consumeLong();
        }
        fields.add(pick(data, fields.size() + 1), f);
        break;
      }
    }
    return write(fields);
  }

  /** One of {@code n} things whose number depends on the message: 0..65535 modulo n. */
  private static int pick(FuzzedDataProvider data, int n) {
    return data.consumeInt(0, 0xFFFF) % n;
  }

  private static List<Field> parse(byte[] message) {
    List<Field> fields = new ArrayList<>();
    CodedInputStream in = CodedInputStream.newInstance(message);
    try {
      for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
        Field f = new Field(WireFormat.getTagFieldNumber(tag), WireFormat.getTagWireType(tag));
        switch (f.wireType) {
          case WireFormat.WIRETYPE_VARINT:
            f.number64 = in.readRawVarint64();
            break;
          case WireFormat.WIRETYPE_FIXED64:
            f.number64 = in.readRawLittleEndian64();
            break;
          case WireFormat.WIRETYPE_FIXED32:
            f.number64 = in.readRawLittleEndian32() & 0xFFFF_FFFFL;
            break;
          case WireFormat.WIRETYPE_LENGTH_DELIMITED:
            f.bytes = in.readByteArray();
            break;
          default:
            return null;
        }
        fields.add(f);
      }
    } catch (IOException e) {
      return null;
    }
    return fields;
  }

  private static byte[] write(List<Field> fields) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CodedOutputStream out = CodedOutputStream.newInstance(bytes);
    try {
      for (Field f : fields) {
        switch (f.wireType) {
          case WireFormat.WIRETYPE_VARINT:
            out.writeUInt64(f.number, f.number64);
            break;
          case WireFormat.WIRETYPE_FIXED64:
            out.writeFixed64(f.number, f.number64);
            break;
          case WireFormat.WIRETYPE_FIXED32:
            out.writeFixed32(f.number, (int) f.number64);
            break;
          default:
            out.writeByteArray(f.number, f.bytes);
            break;
        }
      }
      out.flush();
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory does not fail", e);
    }
    return bytes.toByteArray();
  }
}
