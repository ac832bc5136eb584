//! Reading `ResourceProperties` as CloudFormation sends them.
//!
//! Template scalars arrive as strings (`true` as `"true"`, `443` as `"443"`), lists as JSON
//! arrays, and CloudFormation adds `ServiceToken` (and `ServiceTimeout`, when the template sets
//! it). The [`PropertyReader`] types each value and collects every problem, so one answer names
//! all of them at once; a key no resource reads is one of them (a misspelt property would
//! otherwise deploy a stack without what was asked).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::{Error, PropertyProblem, Result};
use crate::text::{clip, escaped, quoted};

/// A user tag, `{Key, Value}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tag {
    /// The tag's key.
    pub key: String,
    /// The tag's value.
    pub value: String,
}

/// Keys CloudFormation itself puts in every resource's properties.
pub const CLOUDFORMATION_KEYS: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// Tag keys this project and AWS keep for themselves.
pub const RESERVED_TAG_PREFIXES: [&str; 2] = ["privatelink-lambdas:", "aws:"];

/// The most user tags a resource takes: EC2 allows 50 per resource, and this project keeps up
/// to 5 for itself (stack id, logical id, the version that made it, what an endpoint was made
/// with, the acceptance loop's answer).
pub const MAX_USER_TAGS: usize = 45;

/// Reads typed properties out of a `ResourceProperties` object, collecting every problem.
pub struct PropertyReader<'a> {
    properties: &'a Map<String, Value>,
    problems: Vec<PropertyProblem>,
    read: BTreeSet<String>,
    /// The fields of object properties read, as `Object.Field` and `List[].Field`.
    nested: BTreeSet<String>,
    /// Whether this object's keys are data (header names), not properties.
    keys_are_data: bool,
}

impl<'a> PropertyReader<'a> {
    /// A reader over `properties`, which must be a JSON object.
    pub fn new(properties: &'a Value) -> Result<Self> {
        match properties {
            Value::Object(map) => Ok(Self::over(map)),
            other => Err(Error::property(
                "ResourceProperties",
                format!("must be an object, got {}", kind_of(other)),
            )),
        }
    }

    fn over(properties: &'a Map<String, Value>) -> Self {
        Self {
            properties,
            problems: Vec::new(),
            read: BTreeSet::new(),
            nested: BTreeSet::new(),
            keys_are_data: false,
        }
    }

    /// Every property this reader was asked for, given or not, with the fields of the object
    /// properties given (`DnsOptions.DnsRecordIpType`, `SubnetConfigurations[].SubnetId`): the
    /// properties a resource reads, for its reference to be checked against.
    pub fn property_names(&self) -> BTreeSet<String> {
        self.read.iter().chain(&self.nested).cloned().collect()
    }

    /// Records a problem with `property`.
    pub fn problem(&mut self, property: &str, problem: impl Into<String>) {
        self.problems
            .push(PropertyProblem { property: property.to_owned(), problem: problem.into() });
    }

    /// Ends reading: `Ok(value)` when no problem was recorded, else every problem at once. A
    /// key that nothing read (and CloudFormation did not add) is a problem too, named with the
    /// closest key that was read.
    pub fn finish<T>(self, value: T) -> Result<T> {
        let problems = self.into_problems();
        if problems.is_empty() {
            Ok(value)
        } else {
            Err(Error::InvalidProperties(problems))
        }
    }

    fn into_problems(mut self) -> Vec<PropertyProblem> {
        let unknown: Vec<&String> = self
            .properties
            .keys()
            .filter(|k| !self.read.contains(*k) && !CLOUDFORMATION_KEYS.contains(&k.as_str()))
            .collect();
        let problems: Vec<PropertyProblem> = unknown
            .into_iter()
            .map(|key| PropertyProblem {
                property: quoted(key),
                problem: match closest(key, self.read.iter().map(String::as_str)) {
                    Some(known) => {
                        format!("is not a property of this resource; did you mean {known}?")
                    }
                    None => "is not a property of this resource".to_owned(),
                },
            })
            .collect();
        self.problems.extend(problems);
        self.problems
    }

    /// An object property, read by `read` with a reader of its own; its problems are named
    /// `key.Field`.
    pub fn optional_object<T>(
        &mut self,
        key: &str,
        read: impl FnOnce(&mut PropertyReader<'a>) -> T,
    ) -> Option<T> {
        let value = self.get(key)?;
        self.read_nested(key, key, value, read)
    }

    /// A list of objects, each read by `read`; problems are named `key[i].Field`.
    pub fn optional_object_list<T>(
        &mut self,
        key: &str,
        mut read: impl FnMut(&mut PropertyReader<'a>) -> T,
    ) -> Option<Vec<T>> {
        let Value::Array(items) = self.get(key)? else {
            self.problem(key, "must be a list of objects");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(self.read_nested(
                &format!("{key}[{i}]"),
                &format!("{key}[]"),
                item,
                &mut read,
            )?);
        }
        Some(out)
    }

    /// Reads the object `value`, named `name` in problems and `path` in
    /// [`property_names`](Self::property_names).
    fn read_nested<T>(
        &mut self,
        name: &str,
        path: &str,
        value: &'a Value,
        read: impl FnOnce(&mut PropertyReader<'a>) -> T,
    ) -> Option<T> {
        let Value::Object(map) = value else {
            self.problem(name, format!("must be an object, got {}", kind_of(value)));
            return None;
        };
        let mut inner = PropertyReader::over(map);
        let result = read(&mut inner);
        if !inner.keys_are_data {
            let fields = inner.property_names();
            self.nested.extend(fields.into_iter().map(|field| format!("{path}.{field}")));
        }
        let problems = inner.into_problems();
        let ok = problems.is_empty();
        for problem in problems {
            let field = problem.property.trim_matches('"');
            self.problem(&format!("{name}.{field}"), problem.problem);
        }
        ok.then_some(result)
    }

    /// Every key given (to read an object whose keys are data, such as headers: they are not
    /// property names).
    pub fn keys(&mut self) -> Vec<String> {
        self.keys_are_data = true;
        self.properties.keys().cloned().collect()
    }

    fn get(&mut self, key: &str) -> Option<&'a Value> {
        self.read.insert(key.to_owned());
        // An explicit null or empty string is what a template's AWS::NoValue-like conditionals
        // and blank parameters produce: treat both as absent.
        match self.properties.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(value) => Some(value),
        }
    }

    /// A string property; numbers are accepted as their text.
    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.problem(key, format!("must be a string, got {}", kind_of(other)));
                None
            }
        }
    }

    /// A string property that must be present.
    pub fn required_string(&mut self, key: &str) -> Option<String> {
        let value = self.optional_string(key);
        if value.is_none() && !self.problems.iter().any(|p| p.property == key) {
            self.problem(key, "is required");
        }
        value
    }

    /// A string property that must start with `prefix` (an AWS id such as `vpc-`).
    pub fn required_id(&mut self, key: &str, prefix: &str) -> Option<String> {
        let value = self.optional_id(key, prefix);
        if value.is_none() && !self.problems.iter().any(|p| p.property == key) {
            self.problem(key, "is required");
        }
        value
    }

    /// An optional AWS id with `prefix`.
    pub fn optional_id(&mut self, key: &str, prefix: &str) -> Option<String> {
        let value = self.optional_string(key)?;
        if is_aws_id(&value, prefix) {
            Some(value)
        } else {
            self.problem(key, format!("{} is not a {prefix} id", quoted(&value)));
            None
        }
    }

    /// A string property read with its type's `FromStr`, whose error is the problem.
    pub fn optional_parsed<T: std::str::FromStr<Err = String>>(&mut self, key: &str) -> Option<T> {
        let text = self.optional_string(key)?;
        match text.parse() {
            Ok(value) => Some(value),
            Err(problem) => {
                self.problem(key, problem);
                None
            }
        }
    }

    /// A boolean: `true`/`false` as JSON or as the strings CloudFormation sends (any case).
    pub fn optional_bool(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.problem(key, format!("{} is not \"true\" or \"false\"", show(other)));
                None
            }
        }
    }

    /// A whole number in `range`, as a JSON number or a string.
    pub fn optional_u64(&mut self, key: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let value = self.get(key)?;
        match parse_u64(value).filter(|n| range.contains(n)) {
            Some(n) => Some(n),
            None => {
                self.problem(
                    key,
                    format!(
                        "{} is not a whole number from {} to {}",
                        show(value),
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    /// A list of strings: a JSON array of strings or numbers, or one comma-separated string (what
    /// a `CommaDelimitedList` parameter looks like when it is passed through as text).
    pub fn optional_list(&mut self, key: &str) -> Option<Vec<String>> {
        let items: Vec<String> = match self.get(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
                        Value::Number(n) => out.push(n.to_string()),
                        other => {
                            self.problem(
                                key,
                                format!("has an item {} that is not a string", show(other)),
                            );
                            return None;
                        }
                    }
                }
                out
            }
            Value::String(s) => {
                s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
            }
            other => {
                self.problem(key, format!("must be a list, got {}", kind_of(other)));
                return None;
            }
        };
        Some(dedup(items))
    }

    /// A list of AWS ids with `prefix`; an empty list is a problem.
    pub fn id_list(&mut self, key: &str, prefix: &str) -> Option<Vec<String>> {
        let ids = self.optional_list(key)?;
        if ids.is_empty() {
            self.problem(key, "must not be empty");
            return None;
        }
        let bad: Vec<&String> = ids.iter().filter(|id| !is_aws_id(id, prefix)).collect();
        if !bad.is_empty() {
            let bad = bad.iter().map(|s| quoted(s)).collect::<Vec<_>>();
            self.problem(key, format!("{} is not a {prefix} id", bad.join(", ")));
            return None;
        }
        Some(ids)
    }

    /// `Tags`: a list of `{Key, Value}` objects (as `AWS::EC2::*` resources take them).
    pub fn tags(&mut self, key: &str) -> Vec<Tag> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let Value::Array(items) = value else {
            self.problem(key, "must be a list of {Key, Value} objects");
            return Vec::new();
        };
        let mut tags: Vec<Tag> = Vec::with_capacity(items.len());
        for item in items {
            let key_of = |field: &str| match item.get(field) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            match (key_of("Key"), key_of("Value")) {
                (Some(k), Some(v)) if !k.is_empty() && k.len() <= 128 && v.len() <= 256 => {
                    let lower = k.to_ascii_lowercase();
                    if let Some(prefix) = RESERVED_TAG_PREFIXES.iter().find(|p| lower.starts_with(*p)) {
                        self.problem(
                            key,
                            format!("tag key {} uses the reserved {prefix} prefix", quoted(&k)),
                        );
                    } else if tags.iter().any(|t| t.key == k) {
                        self.problem(key, format!("tag key {} is given twice", quoted(&k)));
                    } else {
                        tags.push(Tag { key: k, value: v });
                    }
                }
                _ => self.problem(
                    key,
                    format!(
                        "item {} is not {{Key, Value}} with a key of 1-128 and a value of 0-256 characters",
                        show(item)
                    ),
                ),
            }
        }
        if tags.len() > MAX_USER_TAGS {
            self.problem(
                key,
                format!(
                    "has {} tags; at most {MAX_USER_TAGS} (EC2 allows 50 per resource, and this project keeps 5 for itself)",
                    tags.len()
                ),
            );
        }
        tags.sort();
        tags
    }

    /// A JSON document given either as an object or as a string holding one; returned compact.
    pub fn optional_json_document(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::Object(_) => Some(self.properties[key].to_string()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(doc @ Value::Object(_)) => Some(doc.to_string()),
                _ => {
                    self.problem(key, "is a string but not a JSON object");
                    None
                }
            },
            other => {
                self.problem(key, format!("must be a JSON object, got {}", kind_of(other)));
                None
            }
        }
    }
}

/// The tag writes and removals that turn the user tags among `current` into `desired`. Keys
/// for which `is_managed` is true (ours, AWS's) are never touched.
pub fn tag_changes(
    current: &std::collections::BTreeMap<String, String>,
    desired: &[Tag],
    is_managed: impl Fn(&str) -> bool,
) -> (Vec<(String, String)>, Vec<String>) {
    let set = desired
        .iter()
        .filter(|t| current.get(&t.key) != Some(&t.value))
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    let remove = current
        .keys()
        .filter(|k| !is_managed(k) && !desired.iter().any(|t| &t.key == *k))
        .cloned()
        .collect();
    (set, remove)
}

/// Whether `value` looks like an AWS id with `prefix` (`vpc-`, `subnet-`, `sg-`...).
pub fn is_aws_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn parse_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A value as it appears in a reason: short, so one long value cannot crowd out the others.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => quoted(text),
        other => escaped(&clip(&other.to_string(), 60)),
    }
}

/// The known key closest to a misspelt one: the same but for case, or a few edits away.
fn closest<'k>(key: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    let lower = key.to_ascii_lowercase();
    known
        .map(|k| (k, strsim::levenshtein(&lower, &k.to_ascii_lowercase())))
        .filter(|(k, distance)| *distance <= 3.max(k.len() / 4))
        .min_by_key(|(_, distance)| *distance)
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_typed_booleans_and_numbers_are_typed() {
        let props = json!({"A": "true", "B": "FALSE", "C": true, "N": "443", "M": 80});
        let mut r = PropertyReader::new(&props).unwrap();
        assert_eq!(r.optional_bool("A"), Some(true));
        assert_eq!(r.optional_bool("B"), Some(false));
        assert_eq!(r.optional_bool("C"), Some(true));
        assert_eq!(r.optional_u64("N", 1..=65535), Some(443));
        assert_eq!(r.optional_u64("M", 1..=65535), Some(80));
        assert_eq!(r.optional_bool("Missing"), None);
        r.finish(()).unwrap();
    }

    #[test]
    fn the_string_false_is_false_not_truthy() {
        let props = json!({"PrivateDnsEnabled": "false"});
        let mut r = PropertyReader::new(&props).unwrap();
        assert_eq!(r.optional_bool("PrivateDnsEnabled"), Some(false));
    }

    #[test]
    fn every_problem_is_collected_and_named() {
        let props = json!({"Flag": "yes", "Port": "70000", "Ids": ["subnet-1", "vpc-2"]});
        let mut r = PropertyReader::new(&props).unwrap();
        r.optional_bool("Flag");
        r.optional_u64("Port", 1..=65535);
        r.id_list("Ids", "subnet-");
        r.required_string("VpcId");
        let Err(Error::InvalidProperties(problems)) = r.finish(()) else {
            panic!("expected invalid properties");
        };
        let named: Vec<&str> = problems.iter().map(|p| p.property.as_str()).collect();
        assert_eq!(named, ["Flag", "Port", "Ids", "VpcId"]);
        assert!(problems[2].problem.contains("\"vpc-2\""), "{:?}", problems[2]);
    }

    #[test]
    fn lists_come_as_arrays_or_comma_separated_text() {
        let props = json!({"A": ["443", 80, "443"], "B": "subnet-a, subnet-b"});
        let mut r = PropertyReader::new(&props).unwrap();
        assert_eq!(r.optional_list("A").unwrap(), ["443", "80"]);
        assert_eq!(r.optional_list("B").unwrap(), ["subnet-a", "subnet-b"]);
    }

    #[test]
    fn cloudformations_own_keys_and_blank_values_are_accepted() {
        let props = json!({"ServiceToken": "arn:aws:lambda:...", "ServiceTimeout": "300", "Description": ""});
        let mut r = PropertyReader::new(&props).unwrap();
        assert_eq!(r.optional_string("Description"), None);
        r.finish(()).unwrap();
    }

    #[test]
    fn unknown_keys_are_refused_naming_the_closest_known_one() {
        let props = json!({"PrivateDNSEnabled": "true", "SubnetId": "subnet-1", "Colour": "red"});
        let mut r = PropertyReader::new(&props).unwrap();
        r.optional_bool("PrivateDnsEnabled");
        r.optional_list("SubnetIds");
        let err = r.finish(()).unwrap_err().to_string();
        // In the keys' order (serde_json's map is ordered by key: no crate here turns on its
        // preserve_order), each with the closest known name when there is one.
        assert_eq!(
            err,
            "Invalid properties: \"Colour\": is not a property of this resource; \
             \"PrivateDNSEnabled\": is not a property of this resource; did you mean PrivateDnsEnabled?; \
             \"SubnetId\": is not a property of this resource; did you mean SubnetIds?"
        );
    }

    #[test]
    fn echoed_values_are_short_and_cannot_break_or_disguise_the_line() {
        let long = "x".repeat(10_000);
        assert_eq!(quoted(&long).len(), 62);
        assert_eq!(quoted("a\nb\u{202e}c"), "\"a\\u{a}b\\u{202e}c\"");
        // Cut on a character boundary, never inside one.
        assert_eq!(clip(&"é".repeat(40), 10), "ééé...");
        let props = json!({"VpcId": long, "SubnetIds": ["subnet-1", "bad\u{1b}[31m"]});
        let mut r = PropertyReader::new(&props).unwrap();
        r.required_id("VpcId", "vpc-");
        r.id_list("SubnetIds", "subnet-");
        let err = r.finish(()).unwrap_err().to_string();
        assert!(err.len() < 300, "{err}");
        assert!(err.contains("SubnetIds:") && !err.contains('\u{1b}'), "{err}");
    }

    #[test]
    fn tags_reject_reserved_and_repeated_keys() {
        let props = json!({"Tags": [{"Key": "team", "Value": "net"}, {"Key": "aws:x", "Value": "1"},
            {"Key": "Privatelink-Lambdas:stack-id", "Value": "other"}, {"Key": "team", "Value": "2"}, {"Value": "no key"}]});
        let mut r = PropertyReader::new(&props).unwrap();
        let tags = r.tags("Tags");
        assert_eq!(tags.len(), 1);
        let Err(Error::InvalidProperties(problems)) = r.finish(()) else {
            panic!("expected invalid tags");
        };
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems[1].problem.contains(
                "\"Privatelink-Lambdas:stack-id\" uses the reserved privatelink-lambdas: prefix"
            ),
            "{problems:?}"
        );
    }

    #[test]
    fn more_tags_than_ec2_leaves_room_for_are_refused() {
        let tags: Vec<Value> =
            (0..48).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
        let props = json!({"Tags": tags});
        let mut r = PropertyReader::new(&props).unwrap();
        r.tags("Tags");
        let err = r.finish(()).unwrap_err().to_string();
        assert!(err.contains("has 48 tags; at most 45"), "{err}");
    }

    #[test]
    fn json_documents_are_accepted_as_objects_or_strings() {
        let props = json!({"A": {"Version": "2012-10-17"}, "B": "{\"Version\": \"2012-10-17\"}", "C": "not json"});
        let mut r = PropertyReader::new(&props).unwrap();
        assert_eq!(r.optional_json_document("A").unwrap(), r#"{"Version":"2012-10-17"}"#);
        assert_eq!(r.optional_json_document("B").unwrap(), r#"{"Version":"2012-10-17"}"#);
        assert_eq!(r.optional_json_document("C"), None);
        assert!(r.finish(()).is_err());
    }

    #[test]
    fn tag_changes_write_what_differs_and_remove_only_user_tags() {
        let current = [("team", "a"), ("old", "x"), ("privatelink-lambdas:stack-id", "s")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let desired = [
            Tag { key: "team".into(), value: "b".into() },
            Tag { key: "new".into(), value: "y".into() },
        ];
        let (set, remove) =
            tag_changes(&current, &desired, |k| k.starts_with("privatelink-lambdas:"));
        assert_eq!(set, [("team".to_owned(), "b".to_owned()), ("new".to_owned(), "y".to_owned())]);
        assert_eq!(remove, ["old"]);
    }

    #[test]
    fn properties_that_are_not_an_object_are_refused() {
        assert!(PropertyReader::new(&json!("x")).is_err());
    }
}
