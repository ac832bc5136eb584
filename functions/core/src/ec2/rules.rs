//! The inbound rules of a security group as this project writes them: TCP or UDP ports (one,
//! or a range) from a CIDR block, a security group or a prefix list.

use super::view::canonical_cidr;

/// The transport of an inbound rule: PrivateLink carries TCP, and UDP since October 2024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// TCP (`ip_protocol` `tcp`, or `6` as EC2 may show it).
    Tcp,
    /// UDP (`udp`, or `17`).
    Udp,
}

impl Transport {
    /// `tcp` or `udp`, as EC2's `IpProtocol` takes them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }

    /// The transport of an `IpProtocol` as EC2 reports it (a name or a number).
    pub fn from_ip_protocol(text: &str) -> Option<Self> {
        match text {
            "tcp" | "6" => Some(Self::Tcp),
            "udp" | "17" => Some(Self::Udp),
            _ => None,
        }
    }
}

/// The ports of an inbound rule: one port or a range, TCP or UDP. Written as a template gives
/// them: `443`, `8000-8100`, `tcp/443`, `udp/53`, `udp/5000-5010` (TCP when not said).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// TCP or UDP.
    pub transport: Transport,
    /// The first port.
    pub from: u16,
    /// The last port (`from` for one port).
    pub to: u16,
}

/// The forms `Ports` takes, for the message that refuses another.
pub const PORT_FORMS: &str = "443, 8000-8100, tcp/443, udp/53 or udp/5000-5010, ports 1-65535";

impl PortRange {
    /// One TCP port.
    pub fn tcp(port: u16) -> Self {
        Self { transport: Transport::Tcp, from: port, to: port }
    }
}

impl From<u16> for PortRange {
    fn from(port: u16) -> Self {
        Self::tcp(port)
    }
}

impl std::str::FromStr for PortRange {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim().to_ascii_lowercase();
        let (transport, ports) = match text.split_once('/') {
            Some(("tcp", ports)) => (Transport::Tcp, ports),
            Some(("udp", ports)) => (Transport::Udp, ports),
            Some(_) => return Err(()),
            None => (Transport::Tcp, text.as_str()),
        };
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
        let (from, to) = match ports.split_once('-') {
            Some((from, to)) => (port(from).ok_or(())?, port(to).ok_or(())?),
            None => {
                let one = port(ports).ok_or(())?;
                (one, one)
            }
        };
        if from > to {
            return Err(());
        }
        Ok(Self { transport, from, to })
    }
}

impl std::fmt::Display for PortRange {
    /// The canonical spelling: `443`, `8000-8100`, `udp/53`, `udp/5000-5010`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.transport == Transport::Udp {
            write!(f, "udp/")?;
        }
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// One inbound rule: TCP or UDP ports from a source (a CIDR block, a security group or a
/// prefix list).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IngressRule {
    /// The ports.
    pub port: PortRange,
    /// Where the traffic may come from.
    pub source: Source,
}

impl IngressRule {
    /// `port` (a TCP port, or any [`PortRange`]) from the CIDR block `cidr`.
    pub fn from_cidr(port: impl Into<PortRange>, cidr: &str) -> Self {
        Self { port: port.into(), source: Source::Cidr(canonical_cidr(cidr)) }
    }
}

/// The source of an inbound rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// An IPv4 or IPv6 CIDR block, canonical.
    Cidr(String),
    /// A security group (`sg-...`): traffic from the interfaces it is attached to.
    Group(String),
    /// A managed prefix list (`pl-...`).
    PrefixList(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cidr(id) | Self::Group(id) | Self::PrefixList(id) => f.write_str(id),
        }
    }
}
