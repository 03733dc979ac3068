// In-app questions asked from anywhere: `confirmAction()` for "are you sure"
// before a destructive or irreversible action, `askText()` for a short name.
// Each returns a promise; components/Dialogs.svelte (mounted once in App)
// shows the question in a Modal and settles the promise with the answer.

export type Confirmation = {
  kind: 'confirm';
  title: string;
  body: string;
  confirmLabel: string;
  cancelLabel: string;
  /** The action destroys something: its button is drawn as dangerous. */
  danger: boolean;
  settle: (answer: boolean) => void;
};

export type TextQuestion = {
  kind: 'text';
  title: string;
  label: string;
  initial: string;
  confirmLabel: string;
  cancelLabel: string;
  settle: (answer: string | null) => void;
};

export type Question = Confirmation | TextQuestion;

export const dialogs = $state<{ current: Question | null }>({ current: null });

/** Asks before an action; resolves true only when the person confirms. */
export function confirmAction(question: Omit<Confirmation, 'kind' | 'settle' | 'danger'> & { danger?: boolean }): Promise<boolean> {
  return new Promise((resolve) => {
    dialogs.current?.settle(null as never);
    dialogs.current = {
      kind: 'confirm',
      danger: false,
      ...question,
      settle: (answer) => {
        dialogs.current = null;
        resolve(answer === true);
      },
    };
  });
}

/** Asks for a short text; resolves the trimmed text, or null when cancelled or empty. */
export function askText(question: Omit<TextQuestion, 'kind' | 'settle'>): Promise<string | null> {
  return new Promise((resolve) => {
    dialogs.current?.settle(null as never);
    dialogs.current = {
      kind: 'text',
      ...question,
      settle: (answer) => {
        dialogs.current = null;
        const text = answer?.trim() ?? '';
        resolve(text === '' ? null : text);
      },
    };
  });
}
