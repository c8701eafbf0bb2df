//! CloudFormation intrinsic functions over templates converted to JSON (long form).
//!
//! Supported: `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`,
//! `Fn::Base64`, `Fn::If`, `Fn::Not`, `Fn::Equals`, `Fn::And`, `Fn::Or` (and `Condition`
//! inside conditions), pseudo parameters `AWS::StackName`, `AWS::Region`, `AWS::AccountId`,
//! `AWS::Partition`, `AWS::URLSuffix`, `AWS::StackId`, `AWS::NoValue`.
//! Anything else (`Fn::FindInMap`, `Fn::ImportValue`...) is an error.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

/// Account id of the local stack (moto's default account).
pub const ACCOUNT_ID: &str = "123456789012";

/// A template parameter: its type and effective value (override, else `Default`).
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub param_type: String,
    /// `None` when the parameter has no `Default` and no override was given.
    pub value: Option<Value>,
}

/// Values of `Ref` / `Fn::GetAtt` on resources.
pub trait ResourceRefs {
    /// `None` when `logical_id` is not a resource; `Some(Err(..))` when unsupported.
    fn resource_ref(&self, logical_id: &str) -> Option<Result<String, String>>;
    /// `None` when `logical_id` is not a resource; `Some(Err(..))` when unsupported.
    fn get_att(&self, logical_id: &str, attribute: &str) -> Option<Result<String, String>>;
}

/// Pseudo parameters; `None` fields are not known yet (template parsing before provisioning).
#[derive(Debug, Clone, Default)]
pub struct Pseudo {
    pub stack_name: Option<String>,
    pub region: Option<String>,
}

/// Everything an expression can refer to.
pub struct Scope<'a> {
    pub parameters: &'a BTreeMap<String, Parameter>,
    pub conditions: &'a BTreeMap<String, Value>,
    pub pseudo: &'a Pseudo,
    pub resources: &'a dyn ResourceRefs,
}

/// True for `{"Ref": ..}` and `{"Fn::X": ..}` single-key objects.
pub fn is_intrinsic(map: &Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::"))
}

/// `Fn::GetAtt` target `(logical id, attribute)` of an unresolved value, if it is one.
pub fn get_att_target(value: &Value) -> Option<(String, String)> {
    let arg = value.as_object()?.get("Fn::GetAtt")?;
    split_get_att(arg).ok()
}

fn split_get_att(arg: &Value) -> Result<(String, String), String> {
    match arg {
        Value::String(s) => s
            .split_once('.')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| format!("Fn::GetAtt {s:?} is not of the form Resource.Attribute")),
        Value::Array(items) if items.len() == 2 => match (&items[0], &items[1]) {
            (Value::String(a), Value::String(b)) => Ok((a.clone(), b.clone())),
            _ => Err("Fn::GetAtt takes two strings".into()),
        },
        _ => Err("Fn::GetAtt takes [Resource, Attribute]".into()),
    }
}

impl Scope<'_> {
    /// Resolves every intrinsic in `value`. `AWS::NoValue` removes the enclosing
    /// property / list item; at the top level it yields `Null`.
    pub fn resolve(&self, value: &Value) -> Result<Value, String> {
        Ok(self.resolve_opt(value, 0)?.unwrap_or(Value::Null))
    }

    /// Resolves `value` to a string (numbers and booleans are stringified).
    pub fn resolve_string(&self, value: &Value) -> Result<String, String> {
        let v = self.resolve(value)?;
        scalar_to_string(&v)
    }

    fn resolve_opt(&self, value: &Value, depth: usize) -> Result<Option<Value>, String> {
        if depth > 64 {
            return Err("intrinsic functions nested too deeply".into());
        }
        match value {
            Value::Object(map) if is_intrinsic(map) => {
                let (key, arg) = map.iter().next().expect("one key");
                self.eval(key, arg, depth + 1)
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if let Some(v) = self.resolve_opt(v, depth + 1)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for v in items {
                    if let Some(v) = self.resolve_opt(v, depth + 1)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn eval(&self, key: &str, arg: &Value, depth: usize) -> Result<Option<Value>, String> {
        match key {
            "Ref" => {
                let name = arg.as_str().ok_or("Ref takes a string")?;
                self.reference(name)
            }
            "Fn::GetAtt" => {
                let (id, attr) = split_get_att(arg)?;
                match self.resources.get_att(&id, &attr) {
                    Some(r) => r.map(|s| Some(Value::String(s))),
                    None => Err(format!("Fn::GetAtt on unknown resource {id}")),
                }
            }
            "Fn::Sub" => self.sub(arg, depth).map(|s| Some(Value::String(s))),
            "Fn::Join" => {
                let items = arg.as_array().filter(|a| a.len() == 2);
                let items = items.ok_or("Fn::Join takes [delimiter, [values]]")?;
                let delim = items[0]
                    .as_str()
                    .ok_or("Fn::Join delimiter must be a string")?;
                let list = self.resolve_opt(&items[1], depth)?.unwrap_or(Value::Null);
                let list = list.as_array().ok_or("Fn::Join takes a list of values")?;
                let parts = list
                    .iter()
                    .map(scalar_to_string)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Value::String(parts.join(delim))))
            }
            "Fn::Select" => {
                let items = arg.as_array().filter(|a| a.len() == 2);
                let items = items.ok_or("Fn::Select takes [index, [values]]")?;
                let index = self.resolve_opt(&items[0], depth)?.unwrap_or(Value::Null);
                let index: usize = scalar_to_string(&index)?
                    .parse()
                    .map_err(|_| "Fn::Select index must be a number".to_string())?;
                let list = self.resolve_opt(&items[1], depth)?.unwrap_or(Value::Null);
                let list = list.as_array().ok_or("Fn::Select takes a list of values")?;
                list.get(index)
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| format!("Fn::Select index {index} out of range"))
            }
            "Fn::Split" => {
                let items = arg.as_array().filter(|a| a.len() == 2);
                let items = items.ok_or("Fn::Split takes [delimiter, string]")?;
                let delim = items[0]
                    .as_str()
                    .ok_or("Fn::Split delimiter must be a string")?;
                let s = self.resolve_opt(&items[1], depth)?.unwrap_or(Value::Null);
                let s = scalar_to_string(&s)?;
                Ok(Some(Value::Array(
                    s.split(delim).map(|p| Value::String(p.into())).collect(),
                )))
            }
            "Fn::Base64" => {
                let s = self.resolve_opt(arg, depth)?.unwrap_or(Value::Null);
                let s = scalar_to_string(&s)?;
                Ok(Some(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(s),
                )))
            }
            "Fn::If" => {
                let items = arg.as_array().filter(|a| a.len() == 3);
                let items =
                    items.ok_or("Fn::If takes [condition, value_if_true, value_if_false]")?;
                let name = items[0].as_str().ok_or("Fn::If condition must be a name")?;
                if self.condition(name, depth)? {
                    self.resolve_opt(&items[1], depth)
                } else {
                    self.resolve_opt(&items[2], depth)
                }
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => {
                let mut map = Map::new();
                map.insert(key.to_string(), arg.clone());
                self.eval_bool(&Value::Object(map), depth)
                    .map(|b| Some(Value::Bool(b)))
            }
            other => Err(format!("unsupported intrinsic function {other}")),
        }
    }

    fn reference(&self, name: &str) -> Result<Option<Value>, String> {
        let pseudo = |v: &Option<String>, what: &str| {
            v.clone()
                .map(|s| Some(Value::String(s)))
                .ok_or_else(|| format!("{what} is only known once the stack is provisioned"))
        };
        match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::StackName" => return pseudo(&self.pseudo.stack_name, name),
            "AWS::Region" => return pseudo(&self.pseudo.region, name),
            "AWS::AccountId" => return Ok(Some(Value::String(ACCOUNT_ID.into()))),
            "AWS::Partition" => return Ok(Some(Value::String("aws".into()))),
            "AWS::URLSuffix" => return Ok(Some(Value::String("amazonaws.com".into()))),
            "AWS::NotificationARNs" => return Ok(Some(Value::Array(vec![]))),
            "AWS::StackId" => {
                let stack = pseudo(&self.pseudo.stack_name, name)?;
                let region = pseudo(&self.pseudo.region, "AWS::Region")?;
                let (Some(Value::String(stack)), Some(Value::String(region))) = (stack, region)
                else {
                    unreachable!()
                };
                return Ok(Some(Value::String(format!(
                    "arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{stack}/local"
                ))));
            }
            _ => {}
        }
        if let Some(p) = self.parameters.get(name) {
            return p
                .value
                .clone()
                .map(Some)
                .ok_or_else(|| format!("parameter {name} has no Default and no value was given"));
        }
        match self.resources.resource_ref(name) {
            Some(r) => r.map(|s| Some(Value::String(s))),
            None => Err(format!("Ref to unknown parameter or resource {name}")),
        }
    }

    fn sub(&self, arg: &Value, depth: usize) -> Result<String, String> {
        let (template, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(items) if items.len() == 2 => {
                let t = items[0]
                    .as_str()
                    .ok_or("Fn::Sub template must be a string")?;
                let vars = items[1]
                    .as_object()
                    .ok_or("Fn::Sub variables must be a map")?;
                (t, vars.clone())
            }
            _ => return Err("Fn::Sub takes a string or [string, {variables}]".into()),
        };
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Fn::Sub: unclosed ${{ in {template:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                let v = self.resolve_opt(v, depth)?.unwrap_or(Value::Null);
                out.push_str(&scalar_to_string(&v)?);
            } else if let Some((id, attr)) = name.split_once('.')
                && !name.starts_with("AWS::")
            {
                match self.resources.get_att(id, attr) {
                    Some(r) => out.push_str(&r?),
                    None => return Err(format!("Fn::Sub: unknown resource {id} in ${{{name}}}")),
                }
            } else {
                let v = self.reference(name)?.unwrap_or(Value::Null);
                out.push_str(&scalar_to_string(&v)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Evaluates the named template condition.
    pub fn condition(&self, name: &str, depth: usize) -> Result<bool, String> {
        let expr = self
            .conditions
            .get(name)
            .ok_or_else(|| format!("unknown condition {name}"))?;
        self.eval_bool(expr, depth + 1)
    }

    fn eval_bool(&self, expr: &Value, depth: usize) -> Result<bool, String> {
        if depth > 64 {
            return Err("conditions nested too deeply".into());
        }
        let map = expr.as_object().filter(|m| m.len() == 1);
        let Some((key, arg)) = map.and_then(|m| m.iter().next()) else {
            return match expr {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                _ => Err(format!("not a condition: {expr}")),
            };
        };
        let list = || arg.as_array().ok_or(format!("{key} takes a list"));
        match key.as_str() {
            "Condition" => self.condition(arg.as_str().ok_or("Condition takes a name")?, depth),
            "Fn::Not" => {
                let items = list()?;
                let [inner] = items.as_slice() else {
                    return Err("Fn::Not takes one condition".into());
                };
                Ok(!self.eval_bool(inner, depth + 1)?)
            }
            "Fn::And" => {
                for c in list()? {
                    if !self.eval_bool(c, depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "Fn::Or" => {
                for c in list()? {
                    if self.eval_bool(c, depth + 1)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            "Fn::Equals" => {
                let items = list()?;
                let [a, b] = items.as_slice() else {
                    return Err("Fn::Equals takes two values".into());
                };
                let a = self.resolve_opt(a, depth + 1)?.unwrap_or(Value::Null);
                let b = self.resolve_opt(b, depth + 1)?.unwrap_or(Value::Null);
                Ok(match (scalar_to_string(&a), scalar_to_string(&b)) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => a == b,
                })
            }
            _ => {
                let v = self.resolve_opt(expr, depth + 1)?.unwrap_or(Value::Null);
                self.eval_bool(&v, depth + 1)
            }
        }
    }
}

/// Strings as is, numbers and booleans as text; anything else is an error.
pub fn scalar_to_string(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a string, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct NoResources;
    impl ResourceRefs for NoResources {
        fn resource_ref(&self, id: &str) -> Option<Result<String, String>> {
            (id == "Q").then(|| Ok("https://queue/Q".to_string()))
        }
        fn get_att(&self, id: &str, attr: &str) -> Option<Result<String, String>> {
            (id == "Q").then(|| match attr {
                "Arn" => Ok("arn:q".to_string()),
                _ => Err(format!("unsupported attribute {attr}")),
            })
        }
    }

    fn with_scope<R>(f: impl FnOnce(&Scope) -> R) -> R {
        let mut parameters = BTreeMap::new();
        parameters.insert(
            "Env".to_string(),
            Parameter {
                param_type: "String".into(),
                value: Some(json!("dev")),
            },
        );
        parameters.insert(
            "Empty".to_string(),
            Parameter {
                param_type: "String".into(),
                value: Some(json!("")),
            },
        );
        let mut conditions = BTreeMap::new();
        conditions.insert(
            "IsDev".to_string(),
            json!({"Fn::Equals": [{"Ref": "Env"}, "dev"]}),
        );
        conditions.insert(
            "HasEmpty".to_string(),
            json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "Empty"}, ""]}]}),
        );
        let pseudo = Pseudo {
            stack_name: Some("st".into()),
            region: Some("eu-west-1".into()),
        };
        let scope = Scope {
            parameters: &parameters,
            conditions: &conditions,
            pseudo: &pseudo,
            resources: &NoResources,
        };
        f(&scope)
    }

    #[test]
    fn resolves_refs_subs_and_conditions() {
        with_scope(|s| {
            assert_eq!(s.resolve(&json!({"Ref": "Env"})).unwrap(), json!("dev"));
            assert_eq!(
                s.resolve(&json!({"Fn::Sub": "${AWS::StackName}-${Env}-${Q.Arn}-${AWS::AccountId}-${!Lit}"}))
                    .unwrap(),
                json!("st-dev-arn:q-123456789012-${Lit}")
            );
            assert_eq!(
                s.resolve(&json!({"Fn::Sub": ["${X}/${AWS::Region}", {"X": {"Ref": "Q"}}]}))
                    .unwrap(),
                json!("https://queue/Q/eu-west-1")
            );
            assert_eq!(
                s.resolve(&json!({"Fn::If": ["IsDev", "a", "b"]})).unwrap(),
                json!("a")
            );
            assert_eq!(
                s.resolve(&json!({"Fn::If": ["HasEmpty", "a", "b"]}))
                    .unwrap(),
                json!("b")
            );
            assert_eq!(
                s.resolve(&json!({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3]]}))
                    .unwrap(),
                json!("a-dev-3")
            );
            assert_eq!(
                s.resolve(&json!({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]}))
                    .unwrap(),
                json!("y")
            );
            assert_eq!(
                s.resolve(&json!({"a": {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, 1]}, "b": 2}))
                    .unwrap(),
                json!({"b": 2})
            );
        });
    }

    #[test]
    fn reports_unsupported_and_unknown() {
        with_scope(|s| {
            let e = s
                .resolve(&json!({"Fn::FindInMap": ["M", "a", "b"]}))
                .unwrap_err();
            assert!(e.contains("Fn::FindInMap"), "{e}");
            let e = s.resolve(&json!({"Ref": "Nope"})).unwrap_err();
            assert!(e.contains("Nope"), "{e}");
            let e = s
                .resolve(&json!({"Fn::GetAtt": ["Q", "QueueUrlx"]}))
                .unwrap_err();
            assert!(e.contains("QueueUrlx"), "{e}");
        });
    }
}
