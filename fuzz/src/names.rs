//! The port-name parsers: libnetmap's grammar (`PortName::from_str`) and
//! the legacy `nm_open` one. Any string: no panic, and a name that parses
//! prints as a name that parses back to the same request.

use netmap_ring::name::{parse_legacy, PortName};

use crate::runner::Target;

pub struct Names;

const DICTIONARY: &[&[u8]] = &[
    b"netmap:",
    b"vale",
    b"vale0:",
    b":",
    b"{",
    b"}",
    b"^",
    b"*",
    b"-",
    b"/",
    b"@",
    b"@conf:",
    b"@extmem:",
    b"@share=",
    b"@offset=",
    b"rings=",
    b"tx-rings=",
    b"rx-rings=",
    b"slots=",
    b"tx-slots=",
    b"rx-slots=",
    b"file=",
    b"if-num=",
    b"buf-num=",
    b"ring-num=",
    b",",
    b"=",
    b"/x",
    b"/z",
    b"/t",
    b"/r",
    b"/R",
    b"/T",
    b"0",
    b"1",
    b"4095",
    b"4096",
    b"65535",
    b"4294967296",
    b"eth0",
    b"\xc3\xa9",
];

impl Target for Names {
    fn name(&self) -> &'static str {
        "names"
    }

    fn max_len(&self) -> usize {
        128
    }

    fn dictionary(&self) -> &[&'static [u8]] {
        DICTIONARY
    }

    fn run(&mut self, data: &[u8]) -> Result<(), String> {
        let text = String::from_utf8_lossy(data);
        match text.parse::<PortName>() {
            Ok(name) => {
                let shown = name.to_string();
                match shown.parse::<PortName>() {
                    Ok(again) if again == name => {}
                    Ok(again) => {
                        return Err(format!(
                            "{text:?} prints as {shown:?}, which parses as another request: {again:?} vs {name:?}"
                        ))
                    }
                    Err(e) => {
                        return Err(format!(
                            "{text:?} prints as {shown:?}, which does not parse: {e}"
                        ))
                    }
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        match parse_legacy(&text) {
            Ok(name) => {
                let _ = name.to_string();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        Ok(())
    }
}
