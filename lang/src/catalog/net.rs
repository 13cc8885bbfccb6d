//! Sockets: creation, connect, bind, listen.

use super::{Attribute, EndpointHolder, EndpointPart, EnumType, Event, Source, ValueType};

pub static SOCKET: Event = Event {
    name: "socket",
    hook: "socket_create",
    doc: "a socket is being created (socket, socketpair), also by the kernel on a process's behalf",
    attributes: &[
        Attribute {
            name: "family",
            ty: ValueType::Enum(&FAMILIES),
            source: Source::by_value("family"),
            doc: "address family: inet, inet6, unix, netlink, packet, ...",
        },
        Attribute {
            name: "type",
            ty: ValueType::Enum(&SOCKET_TYPES),
            source: Source::by_value("type"),
            doc: "socket type: stream, dgram, raw, seqpacket, ... (SOCK_NONBLOCK and SOCK_CLOEXEC already removed)",
        },
        Attribute {
            name: "protocol",
            ty: ValueType::Int,
            source: Source::by_value("protocol"),
            doc: "protocol number as passed to socket(2), e.g. 6 for TCP, 17 for UDP, 0 for the default",
        },
    ],
    variants: &[],
};

pub static CONNECT: Event = Event {
    name: "connect",
    hook: "socket_connect",
    doc: "a socket connects (connect(2), also UDP's default destination)",
    attributes: &[
        Attribute {
            name: "family",
            ty: ValueType::Enum(&FAMILIES),
            source: Source::Int {
                param: "address",
                members: &["sa_family"],
            },
            doc: "address family of the destination address",
        },
        Attribute {
            name: "addr",
            ty: ValueType::Addr,
            source: Source::Endpoint {
                param: "address",
                holder: EndpointHolder::SockAddr,
                part: EndpointPart::Addr,
            },
            doc: "destination IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts as IPv4); none for other families",
        },
        Attribute {
            name: "port",
            ty: ValueType::Int,
            source: Source::Endpoint {
                param: "address",
                holder: EndpointHolder::SockAddr,
                part: EndpointPart::Port,
            },
            doc: "destination port, host byte order; none for families other than inet and inet6",
        },
        PROTOCOL,
        TYPE,
    ],
    variants: &[],
};

pub static BIND: Event = Event {
    name: "bind",
    hook: "socket_bind",
    doc: "a socket is bound to a local address (bind(2))",
    attributes: &[
        Attribute {
            name: "family",
            ty: ValueType::Enum(&FAMILIES),
            source: Source::Int {
                param: "address",
                members: &["sa_family"],
            },
            doc: "address family of the local address",
        },
        Attribute {
            name: "addr",
            ty: ValueType::Addr,
            source: Source::Endpoint {
                param: "address",
                holder: EndpointHolder::SockAddr,
                part: EndpointPart::Addr,
            },
            doc: "local IPv4 or IPv6 address (an IPv4-mapped IPv6 address counts as IPv4); none for other families",
        },
        Attribute {
            name: "port",
            ty: ValueType::Int,
            source: Source::Endpoint {
                param: "address",
                holder: EndpointHolder::SockAddr,
                part: EndpointPart::Port,
            },
            doc: "local port, host byte order (0: the kernel picks one); none for families other than inet and inet6",
        },
        PROTOCOL,
        TYPE,
    ],
    variants: &[],
};

pub static LISTEN: Event = Event {
    name: "listen",
    hook: "socket_listen",
    doc: "a socket starts listening (listen(2)); address and port are where it is bound",
    attributes: &[
        Attribute {
            name: "family",
            ty: ValueType::Enum(&FAMILIES),
            source: Source::Int {
                param: "sock",
                members: &["sk", "__sk_common", "skc_family"],
            },
            doc: "address family of the socket",
        },
        Attribute {
            name: "addr",
            ty: ValueType::Addr,
            source: Source::Endpoint {
                param: "sock",
                holder: EndpointHolder::SocketLocal,
                part: EndpointPart::Addr,
            },
            doc: "local address the socket is bound to (0.0.0.0 or :: for any); none for families other than inet and inet6",
        },
        Attribute {
            name: "port",
            ty: ValueType::Int,
            source: Source::Endpoint {
                param: "sock",
                holder: EndpointHolder::SocketLocal,
                part: EndpointPart::Port,
            },
            doc: "local port the socket is bound to (0 if unbound: listen picks one later); none for families other than inet and inet6",
        },
        PROTOCOL,
        TYPE,
    ],
    variants: &[],
};

/// `protocol` of `connect`, `bind` and `listen`: what the socket speaks, as the kernel filled
/// it in when the socket was made (a TCP socket asked for with protocol 0 says `tcp`).
const PROTOCOL: Attribute = Attribute {
    name: "protocol",
    ty: ValueType::Enum(&IP_PROTOCOLS),
    source: Source::Int {
        param: "sock",
        members: &["sk", "sk_protocol"],
    },
    doc: "the socket's protocol (sk->sk_protocol): tcp, udp, icmp, sctp, mptcp, ... for inet and inet6 sockets; other families number their protocols their own way (netlink's 6 is not tcp), so name the family too when it matters",
};

/// `type` of `connect`, `bind` and `listen`.
const TYPE: Attribute = Attribute {
    name: "type",
    ty: ValueType::Enum(&SOCKET_TYPES),
    source: Source::Int {
        param: "sock",
        members: &["type"],
    },
    doc: "the socket's type (socket->type): stream, dgram, raw, seqpacket, ...",
};

/// IP protocol numbers, `IPPROTO_*` of include/uapi/linux/in.h (`IPPROTO_TCP` is `tcp`);
/// UAPI, never renumbered.
pub static IP_PROTOCOLS: EnumType = EnumType {
    name: "protocol",
    values: &[
        ("icmp", 1),
        ("igmp", 2),
        ("ipip", 4),
        ("tcp", 6),
        ("udp", 17),
        ("ipv6", 41),
        ("gre", 47),
        ("esp", 50),
        ("ah", 51),
        ("icmpv6", 58),
        ("sctp", 132),
        ("udplite", 136),
        ("raw", 255),
        ("mptcp", 262),
    ],
};

/// Address families from include/linux/socket.h (`AF_INET` is `inet`), as socket(2) and
/// `struct sockaddr` carry them.
pub static FAMILIES: EnumType = EnumType {
    name: "address family",
    values: &[
        ("unspec", 0),
        ("unix", 1),
        ("inet", 2),
        ("ax25", 3),
        ("ipx", 4),
        ("appletalk", 5),
        ("netrom", 6),
        ("bridge", 7),
        ("atmpvc", 8),
        ("x25", 9),
        ("inet6", 10),
        ("rose", 11),
        ("decnet", 12),
        ("netbeui", 13),
        ("security", 14),
        ("key", 15),
        ("netlink", 16),
        ("packet", 17),
        ("ash", 18),
        ("econet", 19),
        ("atmsvc", 20),
        ("rds", 21),
        ("sna", 22),
        ("irda", 23),
        ("pppox", 24),
        ("wanpipe", 25),
        ("llc", 26),
        ("ib", 27),
        ("mpls", 28),
        ("can", 29),
        ("tipc", 30),
        ("bluetooth", 31),
        ("iucv", 32),
        ("rxrpc", 33),
        ("isdn", 34),
        ("phonet", 35),
        ("ieee802154", 36),
        ("caif", 37),
        ("alg", 38),
        ("nfc", 39),
        ("vsock", 40),
        ("kcm", 41),
        ("qipcrtr", 42),
        ("smc", 43),
        ("xdp", 44),
        ("mctp", 45),
    ],
};

/// Socket types from include/linux/net.h (`SOCK_STREAM` is `stream`).
pub static SOCKET_TYPES: EnumType = EnumType {
    name: "socket type",
    values: &[
        ("stream", 1),
        ("dgram", 2),
        ("raw", 3),
        ("rdm", 4),
        ("seqpacket", 5),
        ("dccp", 6),
        ("packet", 10),
    ],
};
