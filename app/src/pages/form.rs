//! The one form toolkit: a form's state, its fields, and where an error shows. An error
//! about a field the form has (from `validate()` or from the server) shows next to that
//! field, which is marked `aria-invalid` and describes itself with the message; any other
//! error goes to the form's banner, which may be the page's.
use crate::error::ApiError;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::fmt::Display;

#[derive(Clone, Copy)]
pub struct FormState {
    field_errors: RwSignal<Vec<(String, String)>>,
    /// Errors not about one of the form's fields.
    pub error: RwSignal<Option<ApiError>>,
    pub busy: RwSignal<bool>,
    ids: StoredValue<Ids>,
    small: bool,
}

/// Element ids are `{prefix}{name}{suffix}`; `fields` are the form's fields now on screen
/// (name, id), so an error lands only next to a field that is there.
struct Ids {
    prefix: String,
    suffix: String,
    fields: Vec<(&'static str, String)>,
}

impl FormState {
    /// A page's one form: ids `field-{name}`, its own banner ([`FormBanner`]).
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self::with_ids("field-".into(), String::new())
    }

    /// One of many forms on a page (one per stage, check, gate…): ids `{prefix}-{name}-{key}`.
    pub fn scoped(prefix: &str, key: impl Display) -> Self {
        Self::with_ids(format!("{prefix}-"), format!("-{key}"))
    }

    /// A form a page has once, beside others: ids `{prefix}-{name}`.
    pub fn prefixed(prefix: &str) -> Self {
        Self::with_ids(format!("{prefix}-"), String::new())
    }

    fn with_ids(prefix: String, suffix: String) -> Self {
        FormState {
            field_errors: RwSignal::new(vec![]),
            error: RwSignal::new(None),
            busy: RwSignal::new(false),
            ids: StoredValue::new(Ids { prefix, suffix, fields: vec![] }),
            small: false,
        }
    }

    /// Errors not about a field go to `banner` (the page's) instead of the form's own.
    pub fn with_banner(mut self, banner: RwSignal<Option<ApiError>>) -> Self {
        self.error = banner;
        self
    }

    /// The compact layout of a small form in a row (`inline-form small`): a required
    /// field is marked for screen readers only, text areas are short.
    pub fn small(mut self) -> Self {
        self.small = true;
        self
    }

    fn default_id(self, name: &str) -> String {
        self.ids.with_value(|i| format!("{}{name}{}", i.prefix, i.suffix))
    }

    fn register(self, name: &'static str, id: String) {
        self.ids.update_value(|i| i.fields.push((name, id.clone())));
        on_cleanup(move || {
            self.ids.try_update_value(|i| {
                if let Some(at) = i.fields.iter().position(|(n, d)| *n == name && *d == id) {
                    i.fields.remove(at);
                }
            });
        });
    }

    fn id_of(self, name: &str) -> Option<String> {
        self.ids.try_with_value(|i| i.fields.iter().find(|(n, _)| *n == name).map(|(_, id)| id.clone())).flatten()
    }

    fn error_for(self, name: &'static str) -> impl Fn() -> Option<String> + Copy + Send + Sync + 'static {
        move || self.field_errors.read().iter().find(|(f, _)| f == name).map(|(_, m)| m.clone())
    }

    fn clear(self, name: &str) {
        if self.field_errors.read_untracked().iter().any(|(f, _)| f == name) {
            self.field_errors.update(|v| v.retain(|(f, _)| f != name));
        }
    }

    pub fn reset(self) {
        self.field_errors.set(vec![]);
        self.error.set(None);
    }

    /// Puts an error next to its field when this form has that field, else in the banner;
    /// either way the last error goes.
    pub fn show(self, e: ApiError) {
        let at = if e.is_conflict() { None } else { e.field.as_deref().and_then(|f| self.id_of(f)) };
        match at {
            Some(id) => {
                self.error.set(None);
                self.field_errors.set(vec![(e.field.clone().unwrap_or_default(), e.message)]);
                focus(id);
            }
            None => {
                self.field_errors.set(vec![]);
                self.error.set(Some(e));
            }
        }
        self.busy.set(false);
    }

    /// Sends what the form says; `done` gets the answer, or the error shows. A second
    /// submit while one is under way does nothing.
    pub fn send<T: 'static>(
        self,
        change: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
        done: impl FnOnce(T) + 'static,
    ) {
        if self.busy.get_untracked() {
            return;
        }
        self.reset();
        self.busy.set(true);
        spawn_local(async move {
            match change.await {
                Ok(answer) => {
                    self.busy.set(false);
                    done(answer);
                }
                Err(e) => self.show(e),
            }
        });
    }

    /// What a field's control carries: `aria-invalid`, and `aria-describedby` naming its hint and error.
    fn aria(self, name: &'static str, id: &str, hint: bool) -> (impl Fn() -> &'static str + Copy, impl Fn() -> Option<String> + Clone) {
        let error = self.error_for(name);
        let (e, h) = (format!("{id}-error"), format!("{id}-hint"));
        let invalid = move || if error().is_some() { "true" } else { "false" };
        let described_by = move || match (hint, error().is_some()) {
            (true, true) => Some(format!("{h} {e}")),
            (true, false) => Some(h.clone()),
            (false, true) => Some(e.clone()),
            (false, false) => None,
        };
        (invalid, described_by)
    }
}

/// Keyboard and screen-reader users land on the field that needs fixing, once it says why.
fn focus(id: String) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        let input = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&id))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(input) = input {
            let _ = input.focus();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

#[derive(Clone, Copy, Default, PartialEq)]
pub enum Kind {
    #[default]
    Text,
    Area,
    /// A whole number, 0 or more.
    Number,
    /// Any number, fractions too.
    Decimal,
    DateTime,
    Url,
}

/// The error under a field, read out when it appears.
fn error_line(id: &str, error: impl Fn() -> Option<String> + Send + Sync + 'static) -> impl IntoView {
    view! { <p class="field-error" id=format!("{id}-error") aria-live="polite">{error}</p> }
}

/// A labelled text box (or text area, number, date, URL) with its hint and its error.
#[allow(clippy::too_many_arguments)]
#[component]
pub fn Field(
    #[prop(into)] label: String,
    /// The field as `validate()` and the server name it.
    name: &'static str,
    value: RwSignal<String>,
    form: FormState,
    #[prop(optional)] kind: Kind,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    /// The element id, when it is not the form's `{prefix}{name}{suffix}`.
    #[prop(optional, into)]
    id: Option<String>,
    #[prop(optional)] placeholder: Option<&'static str>,
    /// Rows of a text area: 8, or 2 in the small layout.
    #[prop(optional)]
    rows: Option<u32>,
    /// For a number: the largest allowed.
    #[prop(optional)]
    max: Option<&'static str>,
    /// The label is for screen readers only (the placeholder and the row say what it is).
    #[prop(optional)]
    hidden_label: bool,
) -> impl IntoView {
    let id = id.unwrap_or_else(|| form.default_id(name));
    form.register(name, id.clone());
    let error = form.error_for(name);
    let (invalid, described_by) = form.aria(name, &id, hint.is_some());
    let aria_required = required.then_some("true");
    let on_input = move |ev| {
        value.set(event_target_value(&ev));
        form.clear(name);
    };
    let control = if kind == Kind::Area {
        let rows = rows.unwrap_or(if form.small { 2 } else { 8 }).to_string();
        view! {
            <textarea
                id=id.clone()
                name=name
                rows=rows
                placeholder=placeholder
                aria-invalid=invalid
                aria-describedby=described_by
                aria-required=aria_required
                prop:value=move || value.get()
                on:input=on_input
            >
                {value.get_untracked()}
            </textarea>
        }
        .into_any()
    } else {
        let (input_type, min, step) = match kind {
            Kind::Number => ("number", Some("0"), None),
            Kind::Decimal => ("number", None, Some("any")),
            Kind::DateTime => ("datetime-local", None, None),
            Kind::Url => ("url", None, None),
            _ => ("text", None, None),
        };
        view! {
            <input
                id=id.clone()
                name=name
                type=input_type
                min=min
                max=max
                step=step
                placeholder=placeholder
                value=value.get_untracked()
                aria-invalid=invalid
                aria-describedby=described_by
                aria-required=aria_required
                prop:value=move || value.get()
                on:input=on_input
            />
        }
        .into_any()
    };
    // The small layout has no room for the word; screen readers still hear "required".
    let marker = (required && !form.small).then(|| view! { <span class="req">" (required)"</span> });
    view! {
        <div class="field" class:has-error=move || error().is_some()>
            <label for=id.clone() class:visually-hidden=hidden_label>{label}{marker}</label>
            {hint.map(|h| view! { <p class="hint" id=format!("{id}-hint")>{h}</p> })}
            {control}
            {error_line(&id, error)}
        </div>
    }
}

/// A labelled select. `options` are (value, text); the one equal to `value` is chosen.
#[component]
pub fn Choice(
    #[prop(into)] label: String,
    name: &'static str,
    value: RwSignal<String>,
    options: Vec<(String, String)>,
    form: FormState,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] id: Option<String>,
    /// Shown while the options load.
    #[prop(optional)]
    disabled: bool,
) -> impl IntoView {
    let id = id.unwrap_or_else(|| form.default_id(name));
    form.register(name, id.clone());
    let error = form.error_for(name);
    let (invalid, described_by) = form.aria(name, &id, hint.is_some());
    let options = options
        .into_iter()
        .map(|(v, text)| {
            let chosen = v.clone();
            view! { <option value=v selected=move || value.with(|c| *c == chosen)>{text}</option> }
        })
        .collect_view();
    view! {
        <div class="field" class:has-error=move || error().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=format!("{id}-hint")>{h}</p> })}
            <select
                id=id.clone()
                name=name
                disabled=disabled
                aria-invalid=invalid
                aria-describedby=described_by
                prop:value=move || value.get()
                on:change=move |ev| {
                    value.set(event_target_value(&ev));
                    form.clear(name);
                }
            >
                {options}
            </select>
            {error_line(&id, error)}
        </div>
    }
}

/// A checkbox with its label after it.
#[component]
pub fn Checkbox(
    #[prop(into)] label: String,
    name: &'static str,
    value: RwSignal<bool>,
    form: FormState,
    #[prop(optional, into)] id: Option<String>,
) -> impl IntoView {
    let id = id.unwrap_or_else(|| form.default_id(name));
    form.register(name, id.clone());
    let error = form.error_for(name);
    let (invalid, described_by) = form.aria(name, &id, false);
    view! {
        <div class="field checkbox" class:has-error=move || error().is_some()>
            <input
                type="checkbox"
                id=id.clone()
                name=name
                checked=value.get_untracked()
                aria-invalid=invalid
                aria-describedby=described_by
                prop:checked=move || value.get()
                on:change=move |ev| {
                    value.set(event_target_checked(&ev));
                    form.clear(name);
                }
            />
            <label for=id.clone()>{label}</label>
            {error_line(&id, error)}
        </div>
    }
}

/// The form's own banner: errors not about a field, and the conflict of a stale edit.
#[component]
pub fn FormBanner(form: FormState) -> impl IntoView {
    move || {
        form.error.get().map(|e| {
            let conflict = e.is_conflict();
            view! {
                <div class=if conflict { "error-box conflict" } else { "error-box" } role="alert">
                    <p>{e.message}</p>
                    {conflict.then(|| view! {
                        <p>"Your text is still in the form: copy what you need, then "
                            <a href="" rel="external">"reload"</a>" to edit the latest version."</p>
                    })}
                </div>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(view: impl FnOnce() -> AnyView) -> String {
        let owner = Owner::new();
        owner.with(|| view().to_html())
    }

    #[test]
    fn a_scoped_form_names_its_fields_after_its_scope() {
        let html = render(|| {
            let form = FormState::scoped("check", 12);
            let text = RwSignal::new(String::new());
            view! { <Field label="New check" name="text" value=text form hint="One line"/> }.into_any()
        });
        assert!(html.contains(r#"<label for="check-text-12""#), "{html}");
        assert!(html.contains(r#"id="check-text-12""#), "{html}");
        assert!(html.contains(r#"aria-describedby="check-text-12-hint""#), "{html}");
        assert!(html.contains(r#"id="check-text-12-error""#), "{html}");
    }

    #[test]
    fn a_page_form_keeps_the_field_ids() {
        let html = render(|| {
            let form = FormState::new();
            let title = RwSignal::new(String::new());
            view! { <Field label="Title" name="title" value=title form required=true/> }.into_any()
        });
        assert!(html.contains(r#"id="field-title""#), "{html}");
        assert!(html.contains(r#"aria-required="true""#), "{html}");
        assert!(html.contains("(required)"), "{html}");
    }

    #[test]
    fn the_small_layout_says_required_to_screen_readers_only() {
        let html = render(|| {
            let form = FormState::scoped("check", 3).small();
            let text = RwSignal::new(String::new());
            view! { <Field label="New check" name="text" value=text form required=true/> }.into_any()
        });
        assert!(html.contains(r#"aria-required="true""#), "{html}");
        assert!(!html.contains("(required)"), "{html}");
    }

    #[test]
    fn an_error_shows_next_to_its_field_and_anything_else_in_the_banner() {
        let owner = Owner::new();
        owner.with(|| {
            let banner = RwSignal::new(None);
            let form = FormState::scoped("rollback", 7).with_banner(banner);
            let reason = RwSignal::new(String::new());
            let _ = view! { <Field label="Reason to roll back" name="reason" value=reason form/> }.to_html();

            form.show(ApiError::validation("reason", "Say why the stage should be rolled back."));
            assert_eq!(form.error_for("reason")().as_deref(), Some("Say why the stage should be rolled back."));
            assert_eq!(banner.get_untracked(), None);

            // Not a field of this form: the page's banner, and the field's error goes.
            form.show(ApiError::validation("checklist", "Required checks are not at Pass."));
            assert_eq!(form.error_for("reason")(), None);
            assert_eq!(banner.get_untracked().map(|e| e.message), Some("Required checks are not at Pass.".to_string()));

            // A conflict names the version, never a field.
            form.show(ApiError::conflict(4).with_field("reason"));
            assert!(banner.get_untracked().is_some_and(|e| e.is_conflict()));
            assert_eq!(form.error_for("reason")(), None);
        });
    }
}
