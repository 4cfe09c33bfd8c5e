// A class <select> with a search box: typing filters the options by name or id, so 1000
// ImageNet classes stay easy to pick. The model's own class names come first; a 1000-class
// model without names (the official checkpoints) gets the ImageNet ILSVRC-2012 names.
import type { MaskGITConfig } from '../src/maskgit/config.js';
import { IMAGENET_CLASS_NAMES } from './imagenet-classes.js';

/** The label of each class: the config's names, the ImageNet names for 1000 classes, or none. */
export function classNamesFor(config: Pick<MaskGITConfig, 'numClasses' | 'classNames'>): readonly string[] {
  if (config.classNames && config.classNames.length > 0) return config.classNames;
  return config.numClasses === IMAGENET_CLASS_NAMES.length ? IMAGENET_CLASS_NAMES : [];
}

export class ClassPicker {
  private choices: { id: number; label: string; search: string }[] = [];

  constructor(
    private readonly select: HTMLSelectElement,
    private readonly search: HTMLInputElement,
  ) {
    search.addEventListener('input', () => this.render());
  }

  /** The classes to offer: every class but the null class of guidance (it is no choice). */
  setClasses(config: Pick<MaskGITConfig, 'numClasses' | 'classNames' | 'nullClassId'>): void {
    const names = classNamesFor(config);
    this.choices = [];
    for (let c = 0; c < config.numClasses; c++) {
      if (c === config.nullClassId) continue;
      const label = names[c] ? `${c}: ${names[c]}` : `class ${c}`;
      this.choices.push({ id: c, label, search: label.toLowerCase() });
    }
    this.search.value = '';
    // A search box only where there is a long list to search.
    this.search.hidden = this.choices.length <= 20;
    this.render();
  }

  get value(): number {
    return Number(this.select.value);
  }

  /** Selects a class (clearing a search that hides it). */
  set value(id: number) {
    if (!this.visible().some((c) => c.id === id)) {
      this.search.value = '';
      this.render();
    }
    this.select.value = String(id);
  }

  private visible(): { id: number; label: string }[] {
    const words = this.search.value.toLowerCase().split(/\s+/).filter(Boolean);
    return words.length === 0 ? this.choices : this.choices.filter((c) => words.every((w) => c.search.includes(w)));
  }

  private render(): void {
    const selected = this.select.value;
    const shown = this.visible();
    this.select.replaceChildren(...shown.map((c) => new Option(c.label, String(c.id))));
    if (shown.some((c) => String(c.id) === selected)) this.select.value = selected;
  }
}
