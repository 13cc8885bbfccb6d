//! Reading an event's values into the mocked kernel's objects: its integers, strings and
//! flags by name, and the endpoint (family, port, address) of a socket event.

use super::{EventError, Objects};
use lang::checked::{AttrValue, Endpoint};
use lang::eval::EventInput;

/// Lays out the endpoint (family, port, address) the event describes in the object holding
/// it. The family is the event's `family`, else the one its `addr` (or a `port`) implies;
/// the event must be consistent: an IPv4/IPv6 family has a port and an address, others none.
pub(super) fn fill_endpoint(
    objects: &mut Objects,
    endpoint: &Endpoint,
    event: &EventInput,
) -> Result<(), EventError> {
    use std::net::IpAddr;
    const AF_UNIX: u64 = 1;
    const AF_INET: u64 = 2;
    const AF_INET6: u64 = 10;
    let addr = event.values.get("addr");
    let port = event.values.get("port");
    let family = match (event.values.get("family"), addr, port) {
        (Some(AttrValue::Int(f)), _, _) => *f,
        (Some(_), _, _) => return Err(EventError::WrongType("family")),
        (None, Some(AttrValue::Addr(IpAddr::V4(_))), _) => AF_INET,
        (None, Some(AttrValue::Addr(IpAddr::V6(_))), _) => AF_INET6,
        (None, _, Some(AttrValue::Int(_))) => AF_INET,
        (None, _, _) => AF_UNIX,
    };
    let ip = family == AF_INET || family == AF_INET6;
    let conflict = |what: &str| {
        Err(EventError::LayoutConflict(format!(
            "family {family} and {what} do not go together"
        )))
    };
    let end = [
        endpoint.family + 2,
        endpoint.v4_port + 2,
        endpoint.v6_port + 2,
        endpoint.v4_addr + 4,
        endpoint.v6_addr + 16,
    ]
    .into_iter()
    .max()
    .unwrap_or(0) as usize;
    let (o, at) = objects.place(&endpoint.object, end)?;
    let bytes = &mut objects.bytes[o];
    let put = |bytes: &mut Vec<u8>, off: u32, data: &[u8]| {
        let start = at + off as usize;
        bytes[start..start + data.len()].copy_from_slice(data);
    };
    put(bytes, endpoint.family, &(family as u16).to_le_bytes());
    match port {
        Some(AttrValue::Int(p)) if ip => {
            let Ok(p) = u16::try_from(*p) else {
                return conflict("a port past 65535");
            };
            let data = if endpoint.port_network_order {
                p.to_be_bytes()
            } else {
                p.to_le_bytes()
            };
            let off = if family == AF_INET {
                endpoint.v4_port
            } else {
                endpoint.v6_port
            };
            put(bytes, off, &data);
        }
        Some(AttrValue::Absent) | None if !ip => {}
        None => {}
        Some(AttrValue::Int(_)) => return conflict("a port"),
        Some(AttrValue::Absent) => return conflict("no port"),
        Some(_) => return Err(EventError::WrongType("port")),
    }
    match addr {
        Some(AttrValue::Addr(IpAddr::V4(v4))) if family == AF_INET => {
            put(bytes, endpoint.v4_addr, &v4.octets())
        }
        Some(AttrValue::Addr(IpAddr::V4(v4))) if family == AF_INET6 => {
            put(bytes, endpoint.v6_addr, &v4.to_ipv6_mapped().octets())
        }
        Some(AttrValue::Addr(IpAddr::V6(v6))) if family == AF_INET6 => {
            put(bytes, endpoint.v6_addr, &v6.octets())
        }
        // An IPv4-mapped IPv6 value is its IPv4 address, in whichever form.
        Some(AttrValue::Addr(IpAddr::V6(v6))) if family == AF_INET => match v6.to_ipv4_mapped() {
            Some(v4) => put(bytes, endpoint.v4_addr, &v4.octets()),
            None => return conflict("an IPv6 address"),
        },
        Some(AttrValue::Absent) | None if !ip => {}
        None => {}
        Some(AttrValue::Addr(_)) => return conflict("an address"),
        Some(AttrValue::Absent) => return conflict("no address"),
        Some(_) => return Err(EventError::WrongType("addr")),
    }
    Ok(())
}

pub(super) fn int(event: &EventInput, name: &'static str) -> Result<u64, EventError> {
    match event.values.get(name) {
        Some(AttrValue::Int(v)) => Ok(*v),
        Some(_) => Err(EventError::WrongType(name)),
        None => Err(EventError::MissingAttribute(name)),
    }
}

pub(super) fn string(event: &EventInput, name: &'static str) -> Result<Vec<u8>, EventError> {
    match event.values.get(name) {
        Some(AttrValue::Str(v)) => Ok(v.clone()),
        Some(_) => Err(EventError::WrongType(name)),
        None => Err(EventError::MissingAttribute(name)),
    }
}

pub(super) fn flag(event: &EventInput, name: &'static str) -> Result<bool, EventError> {
    match event.values.get(name) {
        Some(AttrValue::Bool(v)) => Ok(*v),
        Some(_) => Err(EventError::WrongType(name)),
        None => Err(EventError::MissingAttribute(name)),
    }
}
