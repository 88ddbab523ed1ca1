//! `#[derive(ParamSchema)]`: a detector's parameter schema, read off the serde
//! struct that parses its params.
//!
//! A detector states each parameter once, as a field of its `Params`
//! struct: the field's name (or `#[serde(rename)]`) is the key, its doc
//! comment the description the editor shows, its type the JSON type, its
//! `#[serde(default…)]` the default, `#[serde(alias…)]` the older names it
//! also accepts, and `#[serde(flatten)]` pulls in a shared group of
//! parameters. The generated code names items of the detectors crate
//! (`crate::ParamSpec`, …), so the derive is for that crate only.
//!
//! Serde attributes this derive does not model are refused at compile
//! time, so the schema cannot quietly disagree with what serde accepts.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Expr, Fields, Lit, LitStr, Meta, Token};

/// Implements `ParamSchema` for a struct with named fields.
#[proc_macro_derive(ParamSchema)]
pub fn derive_param_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Where a field's default comes from.
enum FieldDefault {
    /// `#[serde(default)]`: the type's `Default`.
    Trait,
    /// `#[serde(default = "path")]`.
    Function(syn::Path),
}

/// The serde attributes of one field that shape the schema.
#[derive(Default)]
struct FieldAttrs {
    default: Option<FieldDefault>,
    aliases: Vec<LitStr>,
    rename: Option<LitStr>,
    flatten: bool,
    skip: bool,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "derive(ParamSchema) needs a struct",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "derive(ParamSchema) needs named fields",
        ));
    };
    let container_default = container_has_default(&input.attrs)?;

    let mut pushes = Vec::new();
    for field in &fields.named {
        let attrs = field_attrs(&field.attrs)?;
        if attrs.skip {
            continue;
        }
        let ty = &field.ty;
        if attrs.flatten {
            pushes.push(quote! {
                specs.extend(<#ty as crate::ParamSchema>::param_specs());
            });
            continue;
        }
        let Some(ident) = &field.ident else {
            continue;
        };
        let name = match &attrs.rename {
            Some(rename) => rename.value(),
            None => ident.to_string().trim_start_matches("r#").to_owned(),
        };
        let description = doc_comment(&field.attrs);
        if description.is_empty() {
            return Err(syn::Error::new_spanned(
                ident,
                format!(
                    "param `{name}` needs a doc comment: it is the description the editor shows"
                ),
            ));
        }
        let default = match (&attrs.default, container_default) {
            (Some(FieldDefault::Function(path)), _) => {
                quote! { ::core::option::Option::Some(crate::params::default_json(#path())) }
            }
            (Some(FieldDefault::Trait), _) => quote! {
                ::core::option::Option::Some(crate::params::default_json(
                    <#ty as ::core::default::Default>::default()
                ))
            },
            (None, true) => quote! {
                ::core::option::Option::Some(crate::params::default_json(
                    <Self as ::core::default::Default>::default().#ident
                ))
            },
            // serde fills a missing Option with None; anything else is required.
            (None, false) => quote! {
                if <#ty as crate::ParamKind>::OPTIONAL {
                    ::core::option::Option::Some(::serde_json::Value::Null)
                } else {
                    ::core::option::Option::None
                }
            },
        };
        let aliases = &attrs.aliases;
        pushes.push(quote! {
            specs.push(crate::ParamSpec {
                name: #name,
                aliases: &[#(#aliases),*],
                kind: <#ty as crate::ParamKind>::KIND,
                default: #default,
                description: #description,
            });
        });
    }

    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics crate::ParamSchema for #ident #ty_generics #where_clause {
            fn param_specs() -> ::std::vec::Vec<crate::ParamSpec> {
                let mut specs = ::std::vec::Vec::new();
                #(#pushes)*
                specs
            }
        }
    })
}

/// Whether the struct carries `#[serde(default)]`; refuses container
/// attributes that would change key names.
fn container_has_default(attrs: &[syn::Attribute]) -> syn::Result<bool> {
    let mut default = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                if meta.input.peek(Token![=]) {
                    return Err(meta.error(
                        "derive(ParamSchema) supports only a bare #[serde(default)] on the struct",
                    ));
                }
                default = true;
                Ok(())
            } else if meta.path.is_ident("deny_unknown_fields") {
                Ok(())
            } else {
                Err(meta.error("derive(ParamSchema) does not model this serde attribute"))
            }
        })?;
    }
    Ok(default)
}

fn field_attrs(attrs: &[syn::Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                out.default = Some(if meta.input.peek(Token![=]) {
                    let path: LitStr = meta.value()?.parse()?;
                    FieldDefault::Function(path.parse()?)
                } else {
                    FieldDefault::Trait
                });
            } else if meta.path.is_ident("alias") {
                out.aliases.push(meta.value()?.parse()?);
            } else if meta.path.is_ident("rename") {
                out.rename = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("flatten") {
                out.flatten = true;
            } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing") {
                out.skip = true;
            } else {
                return Err(meta.error("derive(ParamSchema) does not model this serde attribute"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// The field's doc comment as one line.
fn doc_comment(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(lit) => match &lit.lit {
                    Lit::Str(s) => Some(s.value().trim().to_owned()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    lines.join(" ")
}
