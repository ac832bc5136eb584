//! The resources' reference pages (`docs/resources/*.md`) checked against the code, so a
//! property added to the code and missing from the docs (or a default or a refusal the docs get
//! wrong) fails `make test`. Each page has three tables the checks read:
//!
//! - `## Properties`: `Property | Type | Required | Default | Description`. The names must be
//!   exactly the properties the resource reads (fields of objects as `Object.Field`, of the
//!   objects in a list as `List[].Field`), plus CloudFormation's `ServiceToken`. A Default
//!   written as one code literal means "the same as leaving it out", and is checked as such.
//! - `## Attributes`: `Attribute | Description`: exactly the keys the resource answers.
//! - `## What bad input gets`: `Property | Given | The Reason says`: the Given properties, laid
//!   over the page's baseline, are refused with a Reason that says the text. Every property has
//!   at least one.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use privatelink_core::cfn::Outcome;
use privatelink_core::ec2::EndpointView;
use privatelink_core::endpoint::attributes::endpoint_attributes;
use privatelink_core::endpoint::EndpointSpec;
use privatelink_core::properties::PropertyReader;
use privatelink_core::security_group::{plan, GroupSpec};
use privatelink_core::validation::gate::{self, GateSpec};
use privatelink_core::validation::report::DnsReport;
use privatelink_core::validation::{Target, TargetReport};
use serde_json::{json, Map, Value};

/// One resource: its page, the smallest properties it accepts, and its code.
struct Resource {
    page: &'static str,
    baseline: Value,
    read: fn(&mut PropertyReader<'_>),
    parse: fn(&Value) -> Result<String, String>,
    answer: fn() -> Outcome,
}

fn resources() -> Vec<Resource> {
    vec![
        Resource {
            page: "endpoint.md",
            baseline: json!({
                "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
                "VpcId": "vpc-0123456789abcdef0",
                "SubnetIds": ["subnet-0123456789abcdef0"],
            }),
            read: |r| {
                EndpointSpec::read(r);
            },
            parse: |p| EndpointSpec::parse(p).map(|s| format!("{s:?}")).map_err(|e| e.to_string()),
            answer: || {
                let endpoint = EndpointView { id: "vpce-1".into(), ..EndpointView::default() };
                let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1";
                endpoint_attributes(stack, &endpoint, &[], None, &[], &[])
            },
        },
        Resource {
            page: "security-group.md",
            baseline: json!({"VpcId": "vpc-0123456789abcdef0"}),
            read: |r| {
                GroupSpec::read(r);
            },
            parse: |p| GroupSpec::parse(p).map(|s| format!("{s:?}")).map_err(|e| e.to_string()),
            answer: || {
                let spec = GroupSpec::parse(&json!({"VpcId": "vpc-1"})).expect("a minimal group");
                plan::outcome("sg-1", &spec, &[])
            },
        },
        Resource {
            page: "validation.md",
            baseline: json!({"Name": "api.partner.example"}),
            read: |r| {
                GateSpec::read(r);
            },
            parse: |p| GateSpec::parse(p).map(|s| format!("{s:?}")).map_err(|e| e.to_string()),
            answer: || {
                let target = Target::new("api.partner.example");
                let report = TargetReport::new(&target, DnsReport::default(), vec![], vec![]);
                gate::passed(&target.name, &report, 1)
            },
        },
    ]
}

fn page(resource: &Resource) -> String {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/resources").join(resource.page);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The rows (cells trimmed) of the first table under the heading `heading`.
fn table(page: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = page.lines().skip_while(|line| line.trim() != heading).skip(1);
    let rows: Vec<&str> = lines
        .by_ref()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .collect();
    assert!(rows.len() > 2, "no table under {heading:?}");
    rows[2..]
        .iter()
        .map(|row| {
            let row = row.trim().trim_start_matches('|').trim_end_matches('|');
            row.split('|').map(|cell| cell.trim().to_owned()).collect()
        })
        .collect()
}

/// A cell that is one code span: its text.
fn code(cell: &str) -> Option<&str> {
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.contains('`')).then_some(inner)
}

fn named(cell: &str, page: &str) -> String {
    code(cell).unwrap_or_else(|| panic!("{page}: {cell:?} is not one `Name`")).to_owned()
}

/// The properties the code reads: those asked for with nothing given, and the fields of each
/// one given as an object (`{}`) or as a list of one (`[{}]`), so an object property added later
/// has its fields found too.
fn names_read(resource: &Resource) -> BTreeSet<String> {
    let read = |properties: &Value| {
        let mut reader = PropertyReader::new(properties).expect("an object");
        (resource.read)(&mut reader);
        reader.property_names()
    };
    let top = read(&json!({}));
    let mut names = top.clone();
    for name in &top {
        for shape in [json!({}), json!([{}])] {
            names.extend(read(&json!({ name.as_str(): shape })));
        }
    }
    names
}

/// `properties` with `name` (`Object.Field` for a field) set to `value`.
fn with_property(properties: &Value, name: &str, value: Value) -> Value {
    let mut out = properties.clone();
    let mut at = &mut out;
    let mut parts = name.split('.').peekable();
    while let Some(part) = parts.next() {
        let object = at.as_object_mut().expect("an object");
        if parts.peek().is_none() {
            object.insert(part.to_owned(), value);
            break;
        }
        at = object.entry(part).or_insert_with(|| Value::Object(Map::new()));
    }
    out
}

/// A literal as a template author writes it: JSON where it is JSON, else a string.
fn literal(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// Runs `check` on every resource; fails once, listing every page's problems.
fn each_resource(check: impl Fn(&Resource, &str, &mut String)) {
    let mut problems = String::new();
    for resource in resources() {
        check(&resource, &page(&resource), &mut problems);
    }
    assert!(problems.is_empty(), "the reference pages and the code disagree:\n{problems}");
}

#[test]
fn every_property_a_resource_reads_is_on_its_reference_page_and_no_other() {
    each_resource(|resource, page, problems| {
        let documented: BTreeSet<String> = table(page, "## Properties")
            .iter()
            .map(|row| named(&row[0], resource.page))
            .filter(|name| name != "ServiceToken")
            .collect();
        let read = names_read(resource);
        for missing in read.difference(&documented) {
            let _ = writeln!(
                problems,
                "{}: `{missing}` is read by the code, not documented",
                resource.page
            );
        }
        for unknown in documented.difference(&read) {
            let _ = writeln!(
                problems,
                "{}: `{unknown}` is documented, the code reads no such property",
                resource.page
            );
        }
    });
}

#[test]
fn a_documented_default_reads_the_same_as_leaving_the_property_out() {
    each_resource(|resource, page, problems| {
        let without = (resource.parse)(&resource.baseline);
        assert!(without.is_ok(), "{}: the baseline is refused: {without:?}", resource.page);
        for row in table(page, "## Properties") {
            let name = named(&row[0], resource.page);
            let Some(default) = code(&row[3]) else { continue };
            assert!(
                !name.contains("[]"),
                "{}: `{name}`: a list item's default can't be checked: write it as prose",
                resource.page
            );
            let given =
                (resource.parse)(&with_property(&resource.baseline, &name, literal(default)));
            if given != without {
                let _ = writeln!(problems, "{}: `{name}` given its default `{default}` reads as {given:?}, left out as {without:?}", resource.page);
            }
        }
    });
}

#[test]
fn each_documented_refusal_is_what_the_resource_answers() {
    each_resource(|resource, page, problems| {
        for row in table(page, "## What bad input gets") {
            let (name, given, says) = (&row[0], &row[1], &row[2]);
            let given: Value =
                code(given).and_then(|g| serde_json::from_str(g).ok()).unwrap_or_else(|| {
                    panic!("{}: {given:?} is not one `{{JSON object}}`", resource.page)
                });
            let mut properties = resource.baseline.clone();
            for (key, value) in given.as_object().expect("Given is a JSON object") {
                properties[key] = value.clone();
            }
            let says = code(says)
                .unwrap_or_else(|| panic!("{}: {says:?} is not one `Reason`", resource.page));
            match (resource.parse)(&properties) {
                Ok(_) => {
                    let _ = writeln!(
                        problems,
                        "{}: {name} {given} is accepted, the page says `{says}`",
                        resource.page
                    );
                }
                Err(reason) if !reason.contains(says) => {
                    let _ = writeln!(
                        problems,
                        "{}: {name} {given} answers `{reason}`, the page says `{says}`",
                        resource.page
                    );
                }
                Err(_) => {}
            }
        }
    });
}

#[test]
fn every_property_on_a_reference_page_says_what_bad_input_gets() {
    each_resource(|resource, page, problems| {
        let refused: BTreeSet<String> = table(page, "## What bad input gets")
            .iter()
            .map(|row| named(&row[0], resource.page))
            .collect();
        for row in table(page, "## Properties") {
            let name = named(&row[0], resource.page);
            if name != "ServiceToken" && !refused.contains(&name) {
                let _ = writeln!(
                    problems,
                    "{}: `{name}` has no row in \"What bad input gets\"",
                    resource.page
                );
            }
        }
    });
}

#[test]
fn the_attributes_on_a_reference_page_are_those_the_resource_answers() {
    each_resource(|resource, page, problems| {
        let documented: BTreeSet<String> =
            table(page, "## Attributes").iter().map(|row| named(&row[0], resource.page)).collect();
        let answered: BTreeSet<String> = (resource.answer)().data.into_keys().collect();
        if documented != answered {
            let _ = writeln!(
                problems,
                "{}: attributes documented {documented:?}, answered {answered:?}",
                resource.page
            );
        }
    });
}
