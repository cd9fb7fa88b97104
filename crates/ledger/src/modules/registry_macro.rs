//! The `registry!` macro: one table of modules generates the [`Message`](super::Message) enum,
//! its wire codec, dispatch and the hooks.

/// Generates, from one table of modules (see its invocation in `modules/mod.rs`):
/// - `Message`, one variant per module with messages, carrying `<Module as Module>::Msg`, with
///   the serde representation `{"module": "<name>", "msg": …}`;
/// - its `Write`/`Read`/`EncodeSize`: the module's wire tag (`Module::ID`, one byte) then the
///   module's message; an unknown tag is the `UnknownMessage` codec error;
/// - `registry::execute` (dispatch), `registry::end_block` (declaration order) and
///   `registry::end_epoch` (the modules listed in `end_epoch_first`, in that order, then every
///   other module in declaration order);
/// - compile-time checks that wire tags are distinct and that `end_epoch_first` names registered
///   modules, each once.
macro_rules! registry {
    (
        $(#[$mdoc:meta])*
        messages { $( $(#[$vdoc:meta])* $variant:ident => $module:ty ),* $(,)? }
        $(#[$hdoc:meta])*
        hooks { $( $hook:ty ),* $(,)? }
        $(#[$edoc:meta])*
        end_epoch_first [ $( $epoch:ty ),* $(,)? ]
    ) => {
        /// Every message the ledger understands, tagged by module.
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "module", content = "msg", rename_all = "snake_case")]
        pub enum Message {
            $( $(#[$vdoc])* $variant(<$module as Module>::Msg), )*
        }

        impl mycel_primitives::codec::Write for Message {
            fn write(&self, buf: &mut impl bytes::BufMut) {
                match self {
                    $( Message::$variant(m) => {
                        mycel_primitives::codec::Write::write(&<$module as Module>::ID, buf);
                        mycel_primitives::codec::Write::write(m, buf)
                    } )*
                }
            }
        }

        impl mycel_primitives::codec::EncodeSize for Message {
            fn encode_size(&self) -> usize {
                1 + match self {
                    $( Message::$variant(m) => mycel_primitives::codec::EncodeSize::encode_size(m), )*
                }
            }
        }

        impl mycel_primitives::codec::Read for Message {
            type Cfg = ();
            fn read_cfg(
                buf: &mut impl mycel_primitives::codec::Buf,
                _: &(),
            ) -> std::result::Result<Self, CodecError> {
                let module = <u8 as mycel_primitives::codec::Read>::read_cfg(buf, &())?;
                $( if module == <$module as Module>::ID {
                    return Ok(Message::$variant(
                        <<$module as Module>::Msg as mycel_primitives::codec::Read>::read_cfg(
                            buf,
                            &(),
                        )?,
                    ));
                } )*
                let kind = if buf.has_remaining() { buf.chunk()[0] } else { 0 };
                Err(unknown(module, kind))
            }
        }

        // Wire tags are distinct, and `end_epoch` names every module exactly once.
        const _: () = {
            let ids = [$( <$module as Module>::ID, )* $( <$hook as Module>::ID, )*];
            let mut i = 0;
            while i < ids.len() {
                let mut j = i + 1;
                while j < ids.len() {
                    assert!(ids[i] != ids[j], "two modules share a wire tag");
                    j += 1;
                }
                i += 1;
            }
            let first = [$( <$epoch as Module>::ID, )*];
            let mut i = 0;
            while i < first.len() {
                let mut seen = 0;
                let mut j = 0;
                while j < ids.len() {
                    if ids[j] == first[i] {
                        seen += 1;
                    }
                    j += 1;
                }
                assert!(seen == 1, "end_epoch_first names an unregistered module");
                let mut j = i + 1;
                while j < first.len() {
                    assert!(first[i] != first[j], "end_epoch_first names a module twice");
                    j += 1;
                }
                i += 1;
            }
        };

        $(#[$mdoc])*
        $(#[$hdoc])*
        $(#[$edoc])*
        pub mod registry {
            use super::*;

            /// `(name, wire tag)` of every module, in declaration order.
            pub const MODULES: &[(&str, u8)] = &[
                $( (<$module as Module>::NAME, <$module as Module>::ID), )*
                $( (<$hook as Module>::NAME, <$hook as Module>::ID), )*
            ];

            /// Dispatches a message to its module.
            pub fn execute<S: StateRead + ?Sized>(
                ctx: &mut Ctx<'_, '_, S>,
                sender: Address,
                msg: &Message,
            ) -> ExecResult {
                match msg {
                    $( Message::$variant(m) => <$module as Module>::execute(ctx, sender, m), )*
                }
            }

            /// End-of-block hooks, in declaration order.
            pub fn end_block<S: StateRead + ?Sized>(ctx: &mut Ctx<'_, '_, S>) -> Result<()> {
                $( <$module as Module>::end_block(ctx)?; )*
                $( <$hook as Module>::end_block(ctx)?; )*
                Ok(())
            }

            /// End-of-epoch hooks: the table's `end_epoch_first` modules in that order, then
            /// every other module in declaration order.
            pub fn end_epoch<S: StateRead + ?Sized>(
                ctx: &mut Ctx<'_, '_, S>,
                epoch: u64,
            ) -> Result<()> {
                const FIRST: &[u8] = &[$( <$epoch as Module>::ID, )*];
                $( <$epoch as Module>::end_epoch(ctx, epoch)?; )*
                $( if !FIRST.contains(&<$module as Module>::ID) {
                    <$module as Module>::end_epoch(ctx, epoch)?;
                } )*
                $( if !FIRST.contains(&<$hook as Module>::ID) {
                    <$hook as Module>::end_epoch(ctx, epoch)?;
                } )*
                Ok(())
            }
        }
    };
}
