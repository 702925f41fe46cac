//! A publisher's PUBLISH packet encoded once, then patched per message (packet identifier
//! and payload header) instead of encoded again. Pure, no I/O.

use bytes::{Bytes, BytesMut};
use coremq::protocol::{encode, Packet, PacketId, ProtocolVersion, Publish, QoS, TopicName};

use crate::payload::Header;

/// The encoded PUBLISH of one publisher: same topic, QoS, size every time. Lives with its
/// publisher's connection task.
#[derive(Debug, Clone)]
pub struct PublishTemplate {
    frame: Vec<u8>,
    packet_id_at: Option<usize>,
    payload_at: usize,
}

impl PublishTemplate {
    /// Encodes the template; the filler bytes of the payload are `b'x'`.
    pub fn new(
        topic: TopicName,
        qos: QoS,
        payload_bytes: usize,
        version: ProtocolVersion,
    ) -> Result<PublishTemplate, String> {
        let mut publish = Publish::new(topic, Bytes::from(vec![b'x'; payload_bytes]));
        publish.qos = qos;
        publish.packet_id = (qos != QoS::AtMostOnce).then_some(PacketId::MIN);
        let mut out = BytesMut::new();
        encode(&Packet::Publish(publish), version, &mut out).map_err(|e| e.to_string())?;
        let payload_at = out.len() - payload_bytes;
        // The Packet Identifier comes right before the properties (5.0: here an empty
        // set, one zero length byte) and the payload.
        let props = usize::from(version.is_v5());
        let packet_id_at = (qos != QoS::AtMostOnce).then(|| payload_at - props - 2);
        Ok(PublishTemplate {
            frame: out.to_vec(),
            packet_id_at,
            payload_at,
        })
    }

    /// Bytes of one encoded message.
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    /// Appends one message to `out`.
    pub fn append(&self, out: &mut BytesMut, packet_id: Option<PacketId>, header: &Header) {
        let start = out.len();
        out.extend_from_slice(&self.frame);
        let frame = &mut out[start..];
        if let (Some(at), Some(id)) = (self.packet_id_at, packet_id) {
            frame[at..at + 2].copy_from_slice(&id.get().to_be_bytes());
        }
        header.write(&mut frame[self.payload_at..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coremq::protocol::decode;

    #[test]
    fn patched_frames_decode_to_the_intended_publish() {
        for version in [
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
            ProtocolVersion::V3_1,
        ] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let topic = TopicName::new("lg/fanin/3").unwrap();
                let t = PublishTemplate::new(topic, qos, 300, version).unwrap();
                let mut out = BytesMut::new();
                let header = Header {
                    run_id: 9,
                    publisher_id: 3,
                    seq: 77,
                    intended_ns: 5,
                };
                let id = PacketId::new(0xbeef);
                t.append(&mut out, id, &header);
                t.append(&mut out, PacketId::new(2), &Header { seq: 78, ..header });
                assert_eq!(out.len(), 2 * t.len());
                let Some(Packet::Publish(p)) = decode(&mut out, Some(version), 1 << 20).unwrap()
                else {
                    panic!("not a PUBLISH")
                };
                assert_eq!(p.qos, qos);
                assert_eq!(p.topic.as_str(), "lg/fanin/3");
                assert_eq!(p.packet_id, if qos == QoS::AtMostOnce { None } else { id });
                assert_eq!(p.payload.len(), 300);
                assert_eq!(Header::read(&p.payload), Some(header));
                let Some(Packet::Publish(p)) = decode(&mut out, Some(version), 1 << 20).unwrap()
                else {
                    panic!("not a PUBLISH")
                };
                assert_eq!(Header::read(&p.payload).unwrap().seq, 78);
                assert!(out.is_empty());
            }
        }
    }
}
