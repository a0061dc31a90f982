//! Procedural macros for jaxon: `#[derive(Tree)]`, which makes a struct a pytree.
//!
//! The generated code refers to jaxon only through `::jaxon::...` paths. Use the derive
//! through its re-export: `use jaxon::prelude::*;` then `#[derive(Tree)]`; see the
//! documentation of `jaxon::tree` for examples.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2, TokenTree};
use quote::{quote, ToTokens};
use syn::{parse_macro_input, Data, DeriveInput, Fields, Ident, LitStr};

/// Derives `jaxon::tree::Tree` for a struct (named fields, tuple or unit).
///
/// Fields flatten in declaration order. A field marked `#[tree(static)]` holds no leaves:
/// its value (which must be `Hash + Eq + Clone + Debug + Send + Sync + 'static`) is stored in
/// the `TreeDef`, like `jaxon::tree::Static`, and restored from it on unflatten. Type
/// parameters used by ordinary fields get a `Tree` bound, those used by static fields the
/// static bounds. Enums and unions are rejected with a compile error.
#[proc_macro_derive(Tree, attributes(tree))]
pub fn derive_tree(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct FieldInfo {
    /// `self.<access>` for flattening; a name or a tuple index.
    access: TokenStream2,
    /// The field name as shown in the TreeDef (`"x"`, or `"0"` for tuple fields).
    label: String,
    ty: syn::Type,
    is_static: bool,
}

fn expand(input: DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let data = match &input.data {
        Data::Struct(s) => s,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "#[derive(Tree)] supports structs only: an enum is not a pytree (its variant \
                 would have to be part of the TreeDef); wrap the choice in a struct with a \
                 #[tree(static)] field, or use Option for optional subtrees",
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "#[derive(Tree)] supports structs only, not unions",
            ))
        }
    };
    let fields = collect_fields(&data.fields)?;
    let generics = add_bounds(&input.generics, &fields);
    let (impl_g, ty_g, where_g) = generics.split_for_impl();

    let name_lit = LitStr::new(&name.to_string(), Span::call_site());
    let labels: Vec<LitStr> = fields
        .iter()
        .map(|f| LitStr::new(&f.label, Span::call_site()))
        .collect();
    let flatten_children = fields.iter().map(|f| {
        let access = &f.access;
        if f.is_static {
            quote! { ::jaxon::tree::TreeDef::static_value(::core::clone::Clone::clone(&self.#access)) }
        } else {
            quote! { ::jaxon::tree::Tree::flatten(&self.#access, leaves) }
        }
    });
    let rebuilt = fields.iter().enumerate().map(|(i, f)| {
        let ty = &f.ty;
        if f.is_static {
            quote! { children[#i].expect_static::<#ty>() }
        } else {
            quote! { <#ty as ::jaxon::tree::Tree>::unflatten(&children[#i], leaves) }
        }
    });
    let construct = match &data.fields {
        Fields::Named(_) => {
            let names = fields.iter().map(|f| &f.access);
            quote! { #name { #( #names: #rebuilt ),* } }
        }
        Fields::Unnamed(_) => quote! { #name ( #( #rebuilt ),* ) },
        Fields::Unit => quote! { #name },
    };
    let children_binding = if fields.is_empty() {
        quote! { let _ = (children, leaves); }
    } else {
        quote! {}
    };

    Ok(quote! {
        impl #impl_g ::jaxon::tree::Tree for #name #ty_g #where_g {
            fn flatten(
                &self,
                leaves: &mut ::std::vec::Vec<::jaxon::Array>,
            ) -> ::jaxon::tree::TreeDef {
                let _ = &leaves;
                ::jaxon::tree::TreeDef::record(
                    #name_lit,
                    &[ #( #labels ),* ],
                    ::std::vec![ #( #flatten_children ),* ],
                )
            }

            #[track_caller]
            fn unflatten(
                def: &::jaxon::tree::TreeDef,
                leaves: &mut dyn ::core::iter::Iterator<Item = ::jaxon::Array>,
            ) -> Self {
                let children = def.expect_record::<Self>(#name_lit, &[ #( #labels ),* ]);
                #children_binding
                #construct
            }
        }
    })
}

fn collect_fields(fields: &Fields) -> syn::Result<Vec<FieldInfo>> {
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let is_static = parse_static_attr(&f.attrs)?;
        let (access, label) = match &f.ident {
            Some(id) => (id.to_token_stream(), id.to_string()),
            None => {
                let idx = syn::Index::from(i);
                (idx.to_token_stream(), i.to_string())
            }
        };
        out.push(FieldInfo {
            access,
            label,
            ty: f.ty.clone(),
            is_static,
        });
    }
    Ok(out)
}

/// Reads `#[tree(static)]`; any other `tree(...)` content is an error.
fn parse_static_attr(attrs: &[syn::Attribute]) -> syn::Result<bool> {
    let mut is_static = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("tree")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("static") {
                is_static = true;
                Ok(())
            } else {
                Err(meta.error("unknown tree attribute; the only one is #[tree(static)]"))
            }
        })?;
    }
    Ok(is_static)
}

/// Adds `P: Tree` for type parameters used in ordinary fields and the static bounds for
/// those used in static fields (a parameter used by neither gets no bound).
fn add_bounds(generics: &syn::Generics, fields: &[FieldInfo]) -> syn::Generics {
    let mut g = generics.clone();
    let params: Vec<Ident> = g.type_params().map(|p| p.ident.clone()).collect();
    let wc = g.make_where_clause();
    for p in &params {
        let in_tree = fields
            .iter()
            .any(|f| !f.is_static && mentions(f.ty.to_token_stream(), p));
        let in_static = fields
            .iter()
            .any(|f| f.is_static && mentions(f.ty.to_token_stream(), p));
        if in_tree {
            wc.predicates
                .push(syn::parse_quote! { #p: ::jaxon::tree::Tree });
        }
        if in_static {
            wc.predicates.push(syn::parse_quote! {
                #p: ::core::hash::Hash + ::core::cmp::Eq + ::core::clone::Clone
                    + ::core::fmt::Debug + ::core::marker::Send + ::core::marker::Sync + 'static
            });
        }
    }
    g
}

fn mentions(ts: TokenStream2, id: &Ident) -> bool {
    ts.into_iter().any(|t| match t {
        TokenTree::Ident(i) => &i == id,
        TokenTree::Group(g) => mentions(g.stream(), id),
        _ => false,
    })
}
