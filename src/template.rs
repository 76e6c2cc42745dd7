//! Handlebars as nbgen runs every template, user templates (`expand::extras`) and image start
//! commands (`model::start`) alike: strict mode, no HTML escaping, the `json` helper. Pure.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy, Output, RenderContext,
    RenderError, RenderErrorReason, Renderable,
};

/// An empty registry as nbgen renders every user template: strict mode (a name not in the
/// context is an error, in `{{#if}}` and `{{#unless}}` too), no HTML escaping, the `json` helper.
/// Also the registry of image start commands (`model::start`).
pub fn strict_registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("json", Box::new(json_helper));
    hb.register_helper("if", Box::new(StrictIf { positive: true }));
    hb.register_helper("unless", Box::new(StrictIf { positive: false }));
    hb
}

/// `{{json value}}`: the value as JSON, which is valid YAML: quote a string, or write a list
/// or map on one line, whatever it holds.
fn json_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
    if param.is_value_missing() {
        return Err(RenderError::strict_error(param.relative_path()));
    }
    out.write(&serde_json::to_string(param.value()).unwrap_or_default())?;
    Ok(())
}

/// `{{#if}}` and `{{#unless}}` that, like everything else in strict mode, fail on a name that is
/// not in the context (Handlebars' own treat it as false). Every name nbgen documents is always
/// there — an absent value is `null` — so a missing one is a typo.
struct StrictIf {
    positive: bool,
}

impl HelperDef for StrictIf {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let name = if self.positive { "if" } else { "unless" };
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
        if param.is_value_missing() {
            return Err(RenderError::strict_error(param.relative_path()));
        }
        let include_zero = h
            .hash_get("includeZero")
            .and_then(|v| v.value().as_bool())
            .unwrap_or(false);
        let truthy = param.value().is_truthy(include_zero) == self.positive;
        match if truthy { h.template() } else { h.inverse() } {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}
