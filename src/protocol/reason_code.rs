//! MQTT 5.0 reason codes (§2.4, table 2-6) and the MQTT 3.x CONNACK return codes.
//! Pure, no I/O.

use std::fmt;

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, )*) => {
        /// An MQTT 5.0 reason code (§2.4). 0x00 is Success, Normal disconnection and
        /// Granted QoS 0 at once: see [`ReasonCode::NORMAL_DISCONNECTION`] and
        /// [`ReasonCode::GRANTED_QOS_0`].
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ReasonCode {
            $( $(#[$doc])* $name = $value, )*
        }

        impl ReasonCode {
            /// The reason code for a byte, or `None` if table 2-6 has no such code.
            pub const fn from_u8(value: u8) -> Option<Self> {
                match value {
                    $( $value => Some(Self::$name), )*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    /// 0x00 Success (also Normal disconnection, Granted QoS 0); the default.
    #[default]
    Success = 0x00,
    /// 0x01 Granted QoS 1.
    GrantedQoS1 = 0x01,
    /// 0x02 Granted QoS 2.
    GrantedQoS2 = 0x02,
    /// 0x04 Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04,
    /// 0x10 No matching subscribers.
    NoMatchingSubscribers = 0x10,
    /// 0x11 No subscription existed.
    NoSubscriptionExisted = 0x11,
    /// 0x18 Continue authentication.
    ContinueAuthentication = 0x18,
    /// 0x19 Re-authenticate.
    ReAuthenticate = 0x19,
    /// 0x80 Unspecified error.
    UnspecifiedError = 0x80,
    /// 0x81 Malformed Packet.
    MalformedPacket = 0x81,
    /// 0x82 Protocol Error.
    ProtocolError = 0x82,
    /// 0x83 Implementation specific error.
    ImplementationSpecificError = 0x83,
    /// 0x84 Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84,
    /// 0x85 Client Identifier not valid.
    ClientIdentifierNotValid = 0x85,
    /// 0x86 Bad User Name or Password.
    BadUserNameOrPassword = 0x86,
    /// 0x87 Not authorized.
    NotAuthorized = 0x87,
    /// 0x88 Server unavailable.
    ServerUnavailable = 0x88,
    /// 0x89 Server busy.
    ServerBusy = 0x89,
    /// 0x8A Banned.
    Banned = 0x8A,
    /// 0x8B Server shutting down.
    ServerShuttingDown = 0x8B,
    /// 0x8C Bad authentication method.
    BadAuthenticationMethod = 0x8C,
    /// 0x8D Keep Alive timeout.
    KeepAliveTimeout = 0x8D,
    /// 0x8E Session taken over.
    SessionTakenOver = 0x8E,
    /// 0x8F Topic Filter invalid.
    TopicFilterInvalid = 0x8F,
    /// 0x90 Topic Name invalid.
    TopicNameInvalid = 0x90,
    /// 0x91 Packet Identifier in use.
    PacketIdentifierInUse = 0x91,
    /// 0x92 Packet Identifier not found.
    PacketIdentifierNotFound = 0x92,
    /// 0x93 Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93,
    /// 0x94 Topic Alias invalid.
    TopicAliasInvalid = 0x94,
    /// 0x95 Packet too large.
    PacketTooLarge = 0x95,
    /// 0x96 Message rate too high.
    MessageRateTooHigh = 0x96,
    /// 0x97 Quota exceeded.
    QuotaExceeded = 0x97,
    /// 0x98 Administrative action.
    AdministrativeAction = 0x98,
    /// 0x99 Payload format invalid.
    PayloadFormatInvalid = 0x99,
    /// 0x9A Retain not supported.
    RetainNotSupported = 0x9A,
    /// 0x9B QoS not supported.
    QoSNotSupported = 0x9B,
    /// 0x9C Use another server.
    UseAnotherServer = 0x9C,
    /// 0x9D Server moved.
    ServerMoved = 0x9D,
    /// 0x9E Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// 0x9F Connection rate exceeded.
    ConnectionRateExceeded = 0x9F,
    /// 0xA0 Maximum connect time.
    MaximumConnectTime = 0xA0,
    /// 0xA1 Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// 0xA2 Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// 0x00 in DISCONNECT.
    pub const NORMAL_DISCONNECTION: Self = Self::Success;
    /// 0x00 in SUBACK.
    pub const GRANTED_QOS_0: Self = Self::Success;

    /// The byte on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// True for codes below 0x80, which report success (§2.4).
    pub const fn is_success(self) -> bool {
        (self as u8) < 0x80
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (0x{:02X})", self, self.as_u8())
    }
}

/// Reason codes allowed in each packet (MQTT 5.0 §3.x.2.1 tables).
pub(crate) mod allowed {
    use super::ReasonCode::{self, *};

    /// §3.2.2.2 CONNACK.
    pub(crate) const CONNACK: &[ReasonCode] = &[
        Success,
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        ImplementationSpecificError,
        UnsupportedProtocolVersion,
        ClientIdentifierNotValid,
        BadUserNameOrPassword,
        NotAuthorized,
        ServerUnavailable,
        ServerBusy,
        Banned,
        BadAuthenticationMethod,
        TopicNameInvalid,
        PacketTooLarge,
        QuotaExceeded,
        PayloadFormatInvalid,
        RetainNotSupported,
        QoSNotSupported,
        UseAnotherServer,
        ServerMoved,
        ConnectionRateExceeded,
    ];
    /// §3.4.2.1 PUBACK and §3.5.2.1 PUBREC.
    pub(crate) const PUBACK: &[ReasonCode] = &[
        Success,
        NoMatchingSubscribers,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicNameInvalid,
        PacketIdentifierInUse,
        QuotaExceeded,
        PayloadFormatInvalid,
    ];
    /// §3.6.2.1 PUBREL and §3.7.2.1 PUBCOMP.
    pub(crate) const PUBREL: &[ReasonCode] = &[Success, PacketIdentifierNotFound];
    /// §3.9.3 SUBACK.
    pub(crate) const SUBACK: &[ReasonCode] = &[
        Success,
        GrantedQoS1,
        GrantedQoS2,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicFilterInvalid,
        PacketIdentifierInUse,
        QuotaExceeded,
        SharedSubscriptionsNotSupported,
        SubscriptionIdentifiersNotSupported,
        WildcardSubscriptionsNotSupported,
    ];
    /// §3.11.3 UNSUBACK.
    pub(crate) const UNSUBACK: &[ReasonCode] = &[
        Success,
        NoSubscriptionExisted,
        UnspecifiedError,
        ImplementationSpecificError,
        NotAuthorized,
        TopicFilterInvalid,
        PacketIdentifierInUse,
    ];
    /// §3.14.2.1 DISCONNECT.
    pub(crate) const DISCONNECT: &[ReasonCode] = &[
        Success,
        DisconnectWithWillMessage,
        UnspecifiedError,
        MalformedPacket,
        ProtocolError,
        ImplementationSpecificError,
        NotAuthorized,
        ServerBusy,
        ServerShuttingDown,
        KeepAliveTimeout,
        SessionTakenOver,
        TopicFilterInvalid,
        TopicNameInvalid,
        ReceiveMaximumExceeded,
        TopicAliasInvalid,
        PacketTooLarge,
        MessageRateTooHigh,
        QuotaExceeded,
        AdministrativeAction,
        PayloadFormatInvalid,
        RetainNotSupported,
        QoSNotSupported,
        UseAnotherServer,
        ServerMoved,
        SharedSubscriptionsNotSupported,
        ConnectionRateExceeded,
        MaximumConnectTime,
        SubscriptionIdentifiersNotSupported,
        WildcardSubscriptionsNotSupported,
    ];
    /// §3.15.2.1 AUTH.
    pub(crate) const AUTH: &[ReasonCode] = &[Success, ContinueAuthentication, ReAuthenticate];
}

/// An MQTT 3.1/3.1.1 CONNACK return code (MQTT 3.1.1 §3.2.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnectReturnCode {
    /// 0x00 Connection accepted.
    Accepted = 0,
    /// 0x01 Connection refused, unacceptable protocol version.
    UnacceptableProtocolVersion = 1,
    /// 0x02 Connection refused, identifier rejected.
    IdentifierRejected = 2,
    /// 0x03 Connection refused, server unavailable.
    ServerUnavailable = 3,
    /// 0x04 Connection refused, bad user name or password.
    BadUserNameOrPassword = 4,
    /// 0x05 Connection refused, not authorized.
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    /// The return code for a byte, or `None` above 5 (reserved).
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::Accepted),
            1 => Some(Self::UnacceptableProtocolVersion),
            2 => Some(Self::IdentifierRejected),
            3 => Some(Self::ServerUnavailable),
            4 => Some(Self::BadUserNameOrPassword),
            5 => Some(Self::NotAuthorized),
            _ => None,
        }
    }

    /// The closest MQTT 3.x return code for an MQTT 5.0 CONNACK reason code.
    /// Success maps to Accepted; a failure with no 3.x counterpart maps to
    /// Server unavailable, the generic 3.x refusal.
    pub const fn from_reason_code(code: ReasonCode) -> Self {
        match code {
            ReasonCode::Success => Self::Accepted,
            ReasonCode::UnsupportedProtocolVersion => Self::UnacceptableProtocolVersion,
            ReasonCode::ClientIdentifierNotValid => Self::IdentifierRejected,
            ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => {
                Self::BadUserNameOrPassword
            }
            ReasonCode::NotAuthorized | ReasonCode::Banned => Self::NotAuthorized,
            _ => Self::ServerUnavailable,
        }
    }

    /// The MQTT 5.0 reason code with the same meaning.
    pub const fn to_reason_code(self) -> ReasonCode {
        match self {
            Self::Accepted => ReasonCode::Success,
            Self::UnacceptableProtocolVersion => ReasonCode::UnsupportedProtocolVersion,
            Self::IdentifierRejected => ReasonCode::ClientIdentifierNotValid,
            Self::ServerUnavailable => ReasonCode::ServerUnavailable,
            Self::BadUserNameOrPassword => ReasonCode::BadUserNameOrPassword,
            Self::NotAuthorized => ReasonCode::NotAuthorized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MQTT 5.0 §2.4 table 2-6: every byte maps to at most one code, and back.
    #[test]
    fn reason_code_bytes() {
        let mut count = 0;
        for byte in 0..=u8::MAX {
            if let Some(code) = ReasonCode::from_u8(byte) {
                assert_eq!(code.as_u8(), byte);
                count += 1;
            }
        }
        assert_eq!(count, 43);
        assert_eq!(ReasonCode::from_u8(0x03), None);
        assert!(ReasonCode::GrantedQoS2.is_success());
        assert!(!ReasonCode::UnspecifiedError.is_success());
    }

    // MQTT 3.1.1 §3.2.2.3: each 3.x return code survives the trip through ReasonCode.
    #[test]
    fn connect_return_codes() {
        for byte in 0..=5 {
            let code = ConnectReturnCode::from_u8(byte).unwrap();
            assert_eq!(
                ConnectReturnCode::from_reason_code(code.to_reason_code()),
                code
            );
        }
        assert_eq!(ConnectReturnCode::from_u8(6), None);
        assert_eq!(
            ConnectReturnCode::from_reason_code(ReasonCode::QuotaExceeded),
            ConnectReturnCode::ServerUnavailable
        );
    }
}
