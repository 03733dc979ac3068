// Mounts the window's UI, once the saved settings (language, theme) are
// applied, so the first paint is already in the person's language and theme.
import { mount } from 'svelte';
import App from './App.svelte';
import { loadSettings } from './lib/desktop.svelte';
import './styles.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

await loadSettings();

export default mount(App, { target });
